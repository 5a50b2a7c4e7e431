"""Shared fixtures. Fashion-MNIST is never downloaded in a test: the mirrors are emptied,
and the files come from Debian's package ``dataset-fashion-mnist``."""

import subprocess
import sys
from pathlib import Path

import pytest

from d2l_hpo import fashion_files

DEBIAN_DIR = fashion_files.SYSTEM_DIRS[0]  # where Debian's package puts the files


@pytest.fixture(autouse=True, scope="session")
def no_downloads():
    """Any attempt to download fails the test instead of reaching the network."""
    saved = fashion_files.MIRRORS
    fashion_files.MIRRORS = ()
    yield
    fashion_files.MIRRORS = saved


@pytest.fixture(scope="session")
def fashion_root(tmp_path_factory, no_downloads) -> Path:
    """A data root staged from the Debian package, in torchvision's layout."""
    if not all((DEBIAN_DIR / f"{n}.gz").is_file() for n in fashion_files.FILE_SHA256):
        pytest.fail("apt-get install dataset-fashion-mnist (scripts/setup.sh does)")
    root = tmp_path_factory.mktemp("data")
    fashion_files.ensure_fashion_mnist(root, system_dirs=[DEBIAN_DIR])
    return root


def build_book(source: Path, out: Path) -> Path:
    """Build a book as scripts/book.sh does (warnings are errors); return its html folder."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(source), "--path-output", str(out)]
    result = subprocess.run([*command, "-W", "--keep-going"], capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "build succeeded" in result.stdout and "WARNING" not in log
    assert "Executing" not in log  # rendered from the committed outputs
    return out / "_build" / "html"
