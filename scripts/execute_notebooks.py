"""Run notebooks top to bottom in this environment and store their outputs in place.

    .venv/bin/python scripts/execute_notebooks.py chapter19/*.ipynb

The stored outputs are what the book renders and what nbval compares a fresh run with,
so run this after changing a notebook or the code it shows, then commit the result.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from reader_edition import publish


def execute(path: Path, timeout: int) -> float:
    """Execute one notebook in its own folder; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    # The kernel must be this environment's Python, whatever Jupyter finds first.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for path in args.notebooks:
        print(f"{path}: {execute(path, args.timeout):.0f} s", flush=True)
    for notebook in publish():
        print(f"published {notebook}")


if __name__ == "__main__":
    main()
