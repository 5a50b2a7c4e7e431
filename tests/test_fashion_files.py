"""Finding, staging, downloading and verifying the Fashion-MNIST files."""

import gzip
import http.server
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torchvision

from d2l_hpo import fashion_files
from d2l_hpo.fashion_files import (
    FILE_SHA256,
    NO_DOWNLOAD_VARIABLE,
    ChecksumError,
    DataFolderNotWritableError,
    FashionMNISTNotFoundError,
    ensure_fashion_mnist,
    raw_folder,
    sha256_of,
)
from tests.conftest import DEBIAN_DIR

NAMES = list(FILE_SHA256)


def test_staged_files_verify_and_stock_torchvision_finds_them(fashion_root):
    raw = raw_folder(fashion_root)
    assert sorted(p.name for p in raw.iterdir()) == sorted(NAMES)
    for name in NAMES:
        assert sha256_of(raw / name) == FILE_SHA256[name]
    # download=False: torchvision raises unless it finds every file it needs.
    train = torchvision.datasets.FashionMNIST(fashion_root, train=True, download=False)
    test = torchvision.datasets.FashionMNIST(fashion_root, train=False, download=False)
    assert (len(train), len(test)) == (60000, 10000)


def corrupt_copies(folder: Path) -> Path:
    """Write a corrupt ``.gz`` of each file into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (folder / f"{name}.gz").write_bytes(gzip.compress(b"not fashion-mnist"))
    return folder


def test_a_gz_in_the_root_is_used_before_the_system_copy(tmp_path, recwarn):
    raw = raw_folder(tmp_path)
    raw.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(DEBIAN_DIR / f"{name}.gz", raw / f"{name}.gz")
    corrupt = corrupt_copies(tmp_path / "system")  # would fail if it were read
    ensure_fashion_mnist(tmp_path, system_dirs=[corrupt], download=False)
    assert all(sha256_of(raw / n) == FILE_SHA256[n] for n in NAMES)
    assert len(recwarn) == 0


def test_a_corrupt_gz_in_the_root_is_passed_over_with_a_warning(tmp_path):
    raw = corrupt_copies(raw_folder(tmp_path))
    with pytest.warns(UserWarning) as warned:
        ensure_fashion_mnist(tmp_path, system_dirs=[DEBIAN_DIR], download=False)
    messages = [str(w.message) for w in warned]
    assert len(messages) == 4
    for name, message in zip(NAMES, messages, strict=True):
        assert message.startswith(f"{raw / name}.gz: ") and "verified copy" in message
    assert all(sha256_of(raw / n) == FILE_SHA256[n] for n in NAMES)


def test_a_corrupt_staged_file_is_replaced_by_a_verified_copy(tmp_path, fashion_root):
    raw = raw_folder(tmp_path)
    shutil.copytree(raw_folder(fashion_root), raw)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 100)
    with pytest.warns(UserWarning, match="t10k-labels-idx1-ubyte.*SHA-256"):
        ensure_fashion_mnist(tmp_path, system_dirs=[DEBIAN_DIR], download=False)
    assert sha256_of(raw / "t10k-labels-idx1-ubyte") == FILE_SHA256["t10k-labels-idx1-ubyte"]


def test_truncated_gz_is_named_and_not_used(tmp_path):
    source = tmp_path / "system"
    source.mkdir()
    for name in NAMES:
        shutil.copy(DEBIAN_DIR / f"{name}.gz", source / f"{name}.gz")
    data = (source / "train-labels-idx1-ubyte.gz").read_bytes()
    (source / "train-labels-idx1-ubyte.gz").write_bytes(data[: len(data) // 2])
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz.*checksum"):
        ensure_fashion_mnist(root, system_dirs=[source], download=False)
    assert not (raw_folder(root) / "train-labels-idx1-ubyte").exists()
    assert not list(raw_folder(root).glob(".*"))  # no partial file left behind


def test_corrupt_staged_file_is_named_with_its_checksum(tmp_path, fashion_root):
    raw = raw_folder(tmp_path)
    shutil.copytree(raw_folder(fashion_root), raw)
    target = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(target.read_bytes())
    data[100] ^= 1  # flip one bit of one label
    target.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        ensure_fashion_mnist(tmp_path, system_dirs=[], download=False)
    message = str(info.value)
    assert str(target) in message
    assert "SHA-256" in message and FILE_SHA256["t10k-labels-idx1-ubyte"] in message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_data_and_no_network_names_the_three_ways(tmp_path, loopback_downloads):
    mirror = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(FashionMNISTNotFoundError) as info:
        ensure_fashion_mnist(
            tmp_path, system_dirs=[tmp_path / "none"], mirrors=[mirror], timeout=5,
            progress=False,
        )  # fmt: skip
    message = str(info.value)
    assert "FashionMNIST/raw" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download" in message and mirror in message


class _Server:
    """A file server on 127.0.0.1; `mode` makes it serve good, corrupt or cut-off files."""

    def __init__(self, folder: Path):
        self.folder, self.mode, self.requests = folder, "good", []
        self.release = threading.Event()  # ends stalled and trickling answers
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                if outer.mode == "stall":  # accepts, never answers (for at most 10 s)
                    outer.release.wait(10)
                    return
                data = (outer.folder / self.path.lstrip("/")).read_bytes()
                if outer.mode == "corrupt":
                    data = gzip.compress(b"\0\0\x08\x01not fashion-mnist")
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if outer.mode == "trickle":  # a byte every 0.1 s, for at most 10 s
                    for byte in data[:100]:
                        if outer.release.wait(0.1):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                self.wfile.write(data[: len(data) // 2] if outer.mode == "cut" else data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def loopback_downloads(monkeypatch):
    """Allow downloads in this test: its mirrors are servers on 127.0.0.1."""
    monkeypatch.delenv(NO_DOWNLOAD_VARIABLE)


@pytest.fixture
def server(loopback_downloads):
    s = _Server(DEBIAN_DIR)
    yield s
    s.close()


def test_download_from_a_mirror_verifies_and_stages(tmp_path, server):
    raw = ensure_fashion_mnist(tmp_path, system_dirs=[], mirrors=[server.url], progress=False)
    assert sorted(server.requests) == sorted(f"/{n}.gz" for n in NAMES)
    assert all(sha256_of(raw / n) == FILE_SHA256[n] for n in NAMES)
    assert all((raw / f"{n}.gz").is_file() for n in NAMES)  # torchvision's layout
    torchvision.datasets.FashionMNIST(tmp_path, train=False, download=False)


@pytest.mark.parametrize("mode", ["corrupt", "cut"])
def test_a_bad_download_leaves_nothing_to_trust(tmp_path, server, mode):
    server.mode = mode
    expected = ChecksumError if mode == "corrupt" else FashionMNISTNotFoundError
    with pytest.raises(expected, match="train-images-idx3-ubyte"):
        ensure_fashion_mnist(tmp_path, system_dirs=[], mirrors=[server.url], progress=False)
    leftovers = list(raw_folder(tmp_path).iterdir())
    assert leftovers == []
    # A later run with a good mirror starts clean and succeeds.
    server.mode = "good"
    ensure_fashion_mnist(tmp_path, system_dirs=[], mirrors=[server.url], progress=False)


def test_a_second_mirror_is_tried_after_a_corrupt_one(tmp_path, server):
    bad = _Server(DEBIAN_DIR)
    bad.mode = "corrupt"
    try:
        raw = ensure_fashion_mnist(
            tmp_path, system_dirs=[], mirrors=[bad.url, server.url], progress=False
        )
    finally:
        bad.close()
    assert len(bad.requests) == 4 and len(server.requests) == 4
    assert all(sha256_of(raw / n) == FILE_SHA256[n] for n in NAMES)


def test_the_test_suite_forbids_downloads(tmp_path, server, monkeypatch):
    assert server.requests == []
    monkeypatch.undo()  # the variable as conftest.py set it for every test and kernel
    assert os.environ[NO_DOWNLOAD_VARIABLE] == "1"
    with pytest.raises(FashionMNISTNotFoundError, match="downloads are off"):
        ensure_fashion_mnist(tmp_path, system_dirs=[], mirrors=[server.url], progress=False)
    assert server.requests == []


def test_staged_files_are_not_hashed_again_in_the_same_process(tmp_path, monkeypatch):
    from d2l_hpo import fashion_files

    ensure_fashion_mnist(tmp_path, system_dirs=[DEBIAN_DIR], download=False)
    hashed = []
    monkeypatch.setattr(fashion_files, "sha256_of", lambda p: hashed.append(p) or "")
    ensure_fashion_mnist(tmp_path, system_dirs=[DEBIAN_DIR], download=False)
    assert hashed == []
    target = raw_folder(tmp_path) / "t10k-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes())  # a new mtime: verified afresh
    with pytest.raises(ChecksumError):
        ensure_fashion_mnist(tmp_path, system_dirs=[], download=False)
    assert hashed == [target]


def test_staged_and_downloaded_files_are_readable_by_all(tmp_path, server):
    raw = ensure_fashion_mnist(tmp_path / "a", system_dirs=[DEBIAN_DIR], download=False)
    downloaded = ensure_fashion_mnist(
        tmp_path / "b", system_dirs=[], mirrors=[server.url], progress=False
    )
    files = [raw / n for n in NAMES] + [downloaded / f"{n}.gz" for n in NAMES]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}


@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot create anything in, even as root (immutable)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("as root, an unwritable folder needs chattr +i, which this file system lacks")
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_a_root_that_cannot_be_written_says_what_to_do(unwritable):
    with pytest.raises(DataFolderNotWritableError) as info:
        ensure_fashion_mnist(unwritable, system_dirs=[DEBIAN_DIR], download=False)
    message = str(info.value)
    assert str(raw_folder(unwritable)) in message and "root=" in message
    assert isinstance(info.value, PermissionError)


def test_a_root_that_cannot_be_written_stops_before_any_download(unwritable, server):
    with pytest.raises(DataFolderNotWritableError):
        ensure_fashion_mnist(unwritable, system_dirs=[], mirrors=[server.url], progress=False)
    assert server.requests == []


@pytest.mark.parametrize("mode", ["stall", "trickle"])
def test_one_deadline_bounds_all_downloads(tmp_path, server, mode):
    """A mirror that never answers, or trickles bytes, cannot hold the reader."""
    server.mode = mode
    second = _Server(DEBIAN_DIR)
    second.mode = mode
    start = time.monotonic()
    try:
        with pytest.raises(FashionMNISTNotFoundError, match="deadline|timed out"):
            ensure_fashion_mnist(
                tmp_path, system_dirs=[], mirrors=[server.url, second.url],
                timeout=5, deadline=1.0, progress=False,
            )  # fmt: skip
    finally:
        second.close()
    # Without the deadline, each mirror would hold the reader 5 s or more (a read's
    # timeout; a trickle never times out, here it stops after 10 s with the server).
    assert time.monotonic() - start < 4
    assert list(raw_folder(tmp_path).iterdir()) == []


def test_parts_left_by_a_killed_run_are_removed(tmp_path):
    raw = raw_folder(tmp_path)
    raw.mkdir(parents=True)
    stale, live = raw / ".train-images-idx3-ubyte.gz.x1.part", raw / ".t10k.gz.x2.part"
    stale.touch()
    live.touch()
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    ensure_fashion_mnist(tmp_path, system_dirs=[DEBIAN_DIR], download=False)
    assert not stale.exists()
    assert live.exists()  # may belong to a download under way in another process


def test_system_dirs_and_mirrors_are_both_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_files, "SYSTEM_DIRS", (tmp_path / "elsewhere",))
    with pytest.raises(FashionMNISTNotFoundError, match="elsewhere"):
        ensure_fashion_mnist(tmp_path / "root", download=False)
    monkeypatch.setattr(fashion_files, "SYSTEM_DIRS", (DEBIAN_DIR,))
    raw = ensure_fashion_mnist(tmp_path / "root", download=False)
    assert all(sha256_of(raw / n) == FILE_SHA256[n] for n in NAMES)


def test_a_read_only_file_system_says_what_to_do(tmp_path, monkeypatch):
    """A read-only mount fails with EROFS, not a PermissionError: named all the same."""
    import errno

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(DataFolderNotWritableError, match="Read-only file system.*root="):
        ensure_fashion_mnist(tmp_path / "mounted", system_dirs=[DEBIAN_DIR], download=False)
