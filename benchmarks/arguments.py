"""The command line that every benchmark shares: how many seeds, and where the data is."""

from __future__ import annotations

import argparse
from pathlib import Path

from d2l_hpo import ensure_fashion_mnist

TOP = Path(__file__).resolve().parents[1]


def benchmark_arguments(description: str) -> argparse.Namespace:
    """``--seeds`` (default 3) and ``--root`` (default data/), with the data staged there."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--root", type=Path, default=TOP / "data")
    args = parser.parse_args()
    ensure_fashion_mnist(args.root)
    return args
