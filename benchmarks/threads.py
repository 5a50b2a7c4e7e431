"""Time one epoch of section 19.1's objective with 1, 2, 4, 8 and 16 torch threads.

Why ``d2l_hpo.training.TRAINING_THREADS`` is 1: softmax regression multiplies
matrices of 16 x 784 by 784 x 10, too small to split among threads, so more
threads add synchronization, not speed. Every count runs in the same process,
one after another, for each batch size and seed; ratios are to one thread,
measured in this one run.

    .venv/bin/python benchmarks/threads.py [--seeds 3] [--root data]
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
from arguments import benchmark_arguments

from d2l_hpo import hpo_objective_softmax_classification, training
from d2l_hpo.data import load_split

THREAD_COUNTS = (1, 2, 4, 8, 16)
BATCH_SIZES = (16, 256)


def epoch_seconds(root: Path, num_threads: int, batch_size: int, seed: int) -> float:
    """Seconds for one epoch of the objective (training and validation) with `num_threads`."""
    training.TRAINING_THREADS = num_threads
    torch.manual_seed(seed)
    start = time.perf_counter()
    hpo_objective_softmax_classification(
        {"learning_rate": 0.1, "batch_size": batch_size}, max_epochs=1, root=root
    )
    return time.perf_counter() - start


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0])
    load_split(args.root, True), load_split(args.root, False)  # decoded, as after trial 1
    chosen = training.TRAINING_THREADS
    seconds = {(n, b): [] for n in THREAD_COUNTS for b in BATCH_SIZES}
    try:
        for seed in range(args.seeds):
            for batch_size in BATCH_SIZES:
                for n in THREAD_COUNTS:
                    seconds[n, batch_size].append(epoch_seconds(args.root, n, batch_size, seed))
    finally:
        training.TRAINING_THREADS = chosen
    print(f"One epoch of the 19.1 objective, median of {args.seeds} seeds, torch "
          f"{torch.__version__}, {os.cpu_count()} cores; the library uses {chosen}:")  # fmt: skip
    for batch_size in BATCH_SIZES:
        one = statistics.median(seconds[1, batch_size])
        cells = []
        for n in THREAD_COUNTS:
            median = statistics.median(seconds[n, batch_size])
            cells.append(f"{n:>2} threads {median:5.2f} s ({median / one:4.2f}x)")
        print(f"  batch size {batch_size:>3}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
