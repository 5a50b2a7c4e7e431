"""Find, fetch and verify the four Fashion-MNIST files, staged in torchvision's layout.

Sources, in order: ``ROOT/FashionMNIST/raw/`` (where ``d2l.FashionMNIST`` keeps
them), Debian's package ``dataset-fashion-mnist``, then the official mirrors.
Every file is checked against the SHA-256 of its decompressed bytes, so a
re-compressed copy (Debian's) verifies as well as the original archive does.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from pathlib import Path

#: SHA-256 of each decompressed IDX file, as published archives decompress.
FILE_SHA256 = {
    "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}

#: The official mirrors that torchvision and the dataset's authors use.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

#: Where Debian's and Ubuntu's ``dataset-fashion-mnist`` package installs them.
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)

DOWNLOAD_TIMEOUT_SECONDS = 30.0

#: Set to 1 (as the test suite does, for notebook kernels too) to forbid downloads.
NO_DOWNLOAD_VARIABLE = "D2L_HPO_NO_DOWNLOAD"


class FashionMNISTNotFoundError(FileNotFoundError):
    """No copy of Fashion-MNIST was found and none could be downloaded."""


class ChecksumError(ValueError):
    """A Fashion-MNIST file does not have the published content."""


def raw_folder(root: str | os.PathLike) -> Path:
    """The folder in which torchvision (and so ``d2l.FashionMNIST``) looks."""
    return Path(root) / "FashionMNIST" / "raw"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: set[tuple[Path, int, int]] = set()


def _verified_key(path: Path) -> tuple[Path, int, int]:
    """What identifies a file's content for `_VERIFIED`: its path, size and mtime."""
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


def _stage_from_gzip(gz: Path | str, name: str, raw: Path, source: str) -> None:
    """Decompress `gz` into ``raw/name``, verified, atomically (all or nothing)."""
    raw.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with gzip.open(gz, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (OSError, EOFError) as err:  # truncated or not gzip at all
                raise ChecksumError(
                    f"{source}: cannot decompress {name}.gz ({err}); the SHA-256 "
                    "checksum cannot match, so the file was not used. Delete it and "
                    "run again."
                ) from err
        _check(tmp, name, source)
        os.replace(tmp, raw / name)
        _VERIFIED.add(_verified_key(raw / name))  # just checked: no need to hash it again
    finally:
        tmp.unlink(missing_ok=True)


def _download(url: str, dest: Path, timeout: float) -> None:
    """Fetch `url` into `dest` through a temporary file: all or nothing."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
            expected = response.headers.get("Content-Length")
            if expected is not None and out.tell() != int(expected):
                raise OSError(f"incomplete download: {out.tell()} of {expected} bytes")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _fetch(
    name: str,
    raw: Path,
    mirrors: Sequence[str],
    timeout: float,
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
            _download(url, gz, timeout)
            _stage_from_gzip(gz, name, raw, url)
            return
        except ChecksumError as err:
            gz.unlink(missing_ok=True)
            bad_copy = err
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
    system_dirs: Sequence[str | os.PathLike] = SYSTEM_DIRS,
    mirrors: Sequence[str] | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    progress: bool = True,
) -> Path:
    """Return ``root/FashionMNIST/raw`` holding the four verified IDX files.

    Missing files are staged there (decompressed, as torchvision expects them,
    so stock ``d2l.FashionMNIST`` finds them too) from a ``.gz`` already in that
    folder, from one of `system_dirs`, or downloaded from `mirrors` (by
    default the module's `MIRRORS`, looked up at call time so that tests can
    empty it).
    """
    root = Path(root)
    raw = raw_folder(root)
    system_dirs = [Path(d) for d in system_dirs]
    for name in FILE_SHA256:
        bad_copies: list[ChecksumError] = []
        target = raw / name
        if target.exists():
            try:
                _check(target, name, target)
                continue
            except ChecksumError as err:  # replaced below by a verified copy, if any
                bad_copies.append(err)
        local = [raw / f"{name}.gz"] + [d / f"{name}.gz" for d in system_dirs]
        if not _stage_from_first_good(name, raw, [p for p in local if p.is_file()], bad_copies):
            allowed = download and os.environ.get(NO_DOWNLOAD_VARIABLE) != "1"
            try:
                if not allowed:
                    why = f"{name} is missing and downloads are off"
                    raise _not_found(root, system_dirs, why)
                mirrors = MIRRORS if mirrors is None else mirrors
                _fetch(name, raw, mirrors, timeout, progress, root, system_dirs)
            except FashionMNISTNotFoundError:
                if bad_copies:  # say what is wrong with the copies there are
                    raise bad_copies[0] from None
                raise
        for err in bad_copies:
            warnings.warn(f"{err} A verified copy is used instead.", stacklevel=2)
    return raw


def _stage_from_first_good(
    name: str, raw: Path, candidates: Sequence[Path], bad_copies: list[ChecksumError]
) -> bool:
    """Stage `name` from the first candidate ``.gz`` that verifies; note the others."""
    for gz in candidates:
        try:
            _stage_from_gzip(gz, name, raw, str(gz))
            return True
        except ChecksumError as err:
            bad_copies.append(err)
    return False
