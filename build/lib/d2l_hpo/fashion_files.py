"""Find, fetch and verify the four Fashion-MNIST files, in torchvision's layout.

Sources, in order: ``ROOT/FashionMNIST/raw/`` (where ``d2l.FashionMNIST`` keeps
them), Debian's package ``dataset-fashion-mnist``, then the official mirrors.
Every file is checked against the SHA-256 of its decompressed bytes, so a
re-compressed copy (Debian's) verifies as well as the original archive does.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: SHA-256 of each decompressed IDX file, as published archives decompress.
FILE_SHA256 = {
    "train-images-idx3-ubyte": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ),
    "train-labels-idx1-ubyte": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    ),
    "t10k-images-idx3-ubyte": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
    ),
    "t10k-labels-idx1-ubyte": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
    ),
}

#: The official mirrors that torchvision and the dataset's authors use.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

#: Where Debian's and Ubuntu's ``dataset-fashion-mnist`` package installs them.
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)

#: Seconds that one connection or one read may wait for the server.
DOWNLOAD_TIMEOUT_SECONDS = 30.0
#: Seconds that all downloads of one call may take together, mirrors included, so
#: that a mirror that never answers or trickles bytes cannot hold a reader forever.
#: The four files are 30 MB: this allows a connection as slow as 35 kB/s.
DOWNLOAD_DEADLINE_SECONDS = 900.0
#: A temporary ``.part`` file untouched for this long was left by a killed process
#: (a live download makes it once the server answers, then writes to it at least
#: once per timeout), so it is removed.
STALE_PART_SECONDS = 2 * DOWNLOAD_TIMEOUT_SECONDS

#: Set to 1 (as the test suite does, for notebook kernels too) to forbid downloads.
NO_DOWNLOAD_VARIABLE = "D2L_HPO_NO_DOWNLOAD"


class FashionMNISTNotFoundError(FileNotFoundError):
    """No copy of Fashion-MNIST was found and none could be downloaded."""


class ChecksumError(ValueError):
    """A Fashion-MNIST file does not have the published content."""


class DataFolderNotWritableError(PermissionError):
    """The files must be staged in a folder that this user cannot write to."""


def raw_folder(root: str | os.PathLike) -> Path:
    """The folder in which torchvision (and so ``d2l.FashionMNIST``) looks."""
    return Path(root).expanduser() / "FashionMNIST" / "raw"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: set[tuple[Path, int, int]] = set()


def _verified_key(path: Path) -> tuple[Path, int, int]:
    """What identifies a file's content in `_VERIFIED`: path, size and mtime."""
    stat = path.stat()
    return (path.resolve(), stat.st_size, stat.st_mtime_ns)


def _check(path: Path, name: str, source: Path | str) -> None:
    """Raise `ChecksumError` naming `source` unless `path` holds file `name`.

    A file verified once is not hashed again in this process while its size
    and modification time stay the same.
    """
    if _verified_key(path) in _VERIFIED:
        return
    actual = sha256_of(path)
    if actual == FILE_SHA256[name]:
        _VERIFIED.add(_verified_key(path))
    else:
        raise ChecksumError(
            f"{source}: SHA-256 checksum failed for {name} (expected "
            f"{FILE_SHA256[name]}, got {actual}); the file is truncated or "
            "corrupt and was not used. Delete it and run again."
        )


@contextmanager
def _writing_into(folder: Path) -> Iterator[None]:
    """Turn "cannot write into `folder`" into `DataFolderNotWritableError`, which
    says what to do instead; other errors pass unchanged."""
    try:
        yield
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise DataFolderNotWritableError(
            f"Fashion-MNIST must be staged in {folder}, which this user cannot "
            f"write to ({err.strerror}). Pass a root you can write to, such as "
            "FashionMNIST(root='~/data'), or ask the folder's owner to run this "
            "once."
        ) from err


def _make_folder(folder: Path) -> None:
    with _writing_into(folder):
        folder.mkdir(parents=True, exist_ok=True)


def _temporary_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new ``.part`` file in `folder`, readable by all (0644) as staged files."""
    _make_folder(folder)
    with _writing_into(folder):
        fd, tmp_name = tempfile.mkstemp(
            dir=folder, prefix=f".{name}.", suffix=".part"
        )
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would lock out the other users of a root
    return fd, Path(tmp_name)


def _remove_stale_parts(raw: Path) -> None:
    """Remove ``.part`` files that a killed download or staging left behind."""
    for part in raw.glob(".*.part"):
        try:
            if time.time() - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
        except OSError:  # gone already, or not ours to remove: harmless either way
            pass


def _stage_from_gzip(gz: Path | str, name: str, raw: Path, source: str) -> None:
    """Decompress `gz` into ``raw/name``, verified, atomically (all or nothing)."""
    fd, tmp = _temporary_file(raw, name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with gzip.open(gz, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (OSError, EOFError) as err:  # truncated or not gzip at all
                raise ChecksumError(
                    f"{source}: cannot decompress {name}.gz ({err}); the SHA-256 "
                    "checksum cannot match, so the file was not used. Delete it "
                    "and run again."
                ) from err
        _check(tmp, name, source)
        os.replace(tmp, raw / name)
        # Just checked: no need to hash it again.
        _VERIFIED.add(_verified_key(raw / name))
    finally:
        tmp.unlink(missing_ok=True)


TOO_LATE = (
    "the downloads did not finish before their deadline; on a slow connection, "
    "call ensure_fashion_mnist(deadline=...) with more seconds"
)


def _download(url: str, dest: Path, timeout: float, deadline: float) -> None:
    """Fetch `url` into `dest` through a temporary file: all or nothing.

    Each connection and read waits at most `timeout` seconds, and the transfer
    stops with `TimeoutError` once ``time.monotonic()`` passes `deadline`.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(TOO_LATE)
    _make_folder(dest.parent)  # before asking the server: a folder we cannot use
    with urllib.request.urlopen(url, timeout=min(timeout, remaining)) as response:
        # The .part file is made once the server answers, so that it is written
        # to from the start (see STALE_PART_SECONDS).
        fd, tmp = _temporary_file(dest.parent, dest.name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := response.read1(1 << 16):  # what one read brings
                    out.write(chunk)
                    if time.monotonic() > deadline:
                        raise TimeoutError(TOO_LATE)
                size, expected = out.tell(), response.headers.get("Content-Length")
                if expected is not None and size != int(expected):
                    raise OSError(
                        f"incomplete download: {size} of {expected} bytes"
                    )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)


def _fetch(
    name: str,
    raw: Path,
    mirrors: Sequence[str],
    timeout: float,
    deadline: float,
    progress: bool,
    root: Path,
    system_dirs: Sequence[Path],
) -> None:
    """Download ``name.gz`` from the first mirror that serves a verified copy."""
    errors: list[str] = []
    bad_copy: ChecksumError | None = None
    gz = raw / f"{name}.gz"
    for mirror in mirrors:
        url = f"{mirror}{name}.gz"
        if progress:
            print(f"Downloading {url}", flush=True)
        try:
            _download(url, gz, timeout, deadline)
            _stage_from_gzip(gz, name, raw, url)
            return
        except ChecksumError as err:
            gz.unlink(missing_ok=True)
            bad_copy = err
        except DataFolderNotWritableError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"{url}: {err}")
    if bad_copy is not None:
        raise bad_copy
    raise _not_found(root, system_dirs, "; ".join(errors) or "no mirrors given")


def _not_found(root: Path, system_dirs: Sequence[Path], why: str):
    files = ", ".join(f"{n}.gz" for n in FILE_SHA256)
    return FashionMNISTNotFoundError(
        f"Fashion-MNIST was not found and could not be downloaded ({why}). "
        "Get it in one of three ways:\n"
        f"  1. put the four files ({files}) in {raw_folder(root)}/, "
        "torchvision's layout (or pass another root=);\n"
        "  2. on Debian or Ubuntu: apt-get install dataset-fashion-mnist, which "
        f"puts them in {', '.join(map(str, system_dirs)) or '(no folder given)'};\n"
        "  3. connect to the internet and run again: they are downloaded from "
        "the official mirrors and their checksums verified."
    )


def ensure_fashion_mnist(
    root: str | os.PathLike = "../data",
    *,
    download: bool = True,
    system_dirs: Sequence[str | os.PathLike] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    deadline: float = DOWNLOAD_DEADLINE_SECONDS,
    progress: bool = True,
) -> Path:
    """Return ``root/FashionMNIST/raw`` holding the four verified IDX files.

    Missing files are staged there (decompressed, as torchvision expects them,
    so stock ``d2l.FashionMNIST`` finds them too) from a ``.gz`` already in that
    folder, from one of `system_dirs`, or downloaded from `mirrors`. Both default
    to the module's `SYSTEM_DIRS` and `MIRRORS`, looked up at call time so that
    they can be changed. All downloads of the call share one `deadline` in seconds.
    """
    root = Path(root).expanduser()
    raw = raw_folder(root)
    system_dirs = [
        Path(d) for d in (SYSTEM_DIRS if system_dirs is None else system_dirs)
    ]
    download_deadline = time.monotonic() + deadline
    if raw.is_dir():
        _remove_stale_parts(raw)
    for name in FILE_SHA256:
        bad_copies: list[ChecksumError] = []
        target = raw / name
        if target.exists():
            try:
                _check(target, name, target)
                continue
            except ChecksumError as err:
                bad_copies.append(err)  # replaced below by a verified copy, if any
        local = [raw / f"{name}.gz"] + [d / f"{name}.gz" for d in system_dirs]
        if not _stage_from_first_good(
            name, raw, [p for p in local if p.is_file()], bad_copies
        ):
            allowed = download and os.environ.get(NO_DOWNLOAD_VARIABLE) != "1"
            try:
                if not allowed:
                    why = f"{name} is missing and downloads are off"
                    raise _not_found(root, system_dirs, why)
                mirrors = MIRRORS if mirrors is None else mirrors
                _fetch(
                    name,
                    raw,
                    mirrors,
                    timeout,
                    download_deadline,
                    progress,
                    root,
                    system_dirs,
                )
            except FashionMNISTNotFoundError:
                if bad_copies:  # say what is wrong with the copies there are
                    raise bad_copies[0] from None
                raise
        for err in bad_copies:
            warnings.warn(f"{err} A verified copy is used instead.", stacklevel=2)
    return raw


def _stage_from_first_good(
    name: str,
    raw: Path,
    candidates: Sequence[Path],
    bad_copies: list[ChecksumError],
) -> bool:
    """Stage `name` from the first ``.gz`` that verifies; note the others."""
    for gz in candidates:
        try:
            _stage_from_gzip(gz, name, raw, str(gz))
            return True
        except ChecksumError as err:
            bad_copies.append(err)
    return False
