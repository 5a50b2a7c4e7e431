"""Time one LeNet epoch of 19.2's objective three ways, in one run on one machine.

1. stock d2l: ``d2l.hpo_objective_lenet`` as the chapter saved it (``d2l.FashionMNIST``
   with PIL transforms and 4 loader workers, ``d2l.HPOTrainer``, a validation pass per
   epoch for the progress board and one more for ``validation_error``), with torch's
   default thread count;
2. d2l_hpo: ``hpo_objective_lenet`` with ``max_epochs=1``;
3. the floor: a bare PyTorch loop over the same in-memory tensors, with the same
   ``d2l.LeNet``, initialization and thread count as d2l_hpo, and one pass over the
   validation images.

Batch size 128 and learning rate 0.1 (LeNet's defaults), each timed as a search sees
a trial (the images already decoded), once per seed.

    .venv/bin/python benchmarks/lenet_epoch.py [--seeds 3] [--root data]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from arguments import benchmark_arguments
from bare_loop import train_one_epoch
from d2l import torch as d2l

from d2l_hpo import hpo_objective_lenet
from d2l_hpo.data import load_split
from d2l_hpo.training import TRAINING_THREADS, torch_threads

warnings.filterwarnings("ignore", message="This DataLoader will create 4 worker processes")
LEARNING_RATE, BATCH_SIZE = 0.1, 128


def stock_d2l_epoch(root: Path) -> float:
    """The chapter's saved objective, one epoch, its board not drawn."""
    cwd = os.getcwd()
    os.chdir(root / "notebooks")  # stock d2l reads ../data
    board_display = d2l.ProgressBoard.draw
    d2l.ProgressBoard.draw = lambda *args, **kwargs: None  # no figure per step
    try:
        error = d2l.hpo_objective_lenet(LEARNING_RATE, BATCH_SIZE, max_epochs=1)
        return float(error)
    finally:
        d2l.ProgressBoard.draw = board_display
        os.chdir(cwd)


def d2l_hpo_epoch(root: Path) -> float:
    return hpo_objective_lenet(LEARNING_RATE, BATCH_SIZE, max_epochs=1, root=root / "data")


def bare_epoch(root: Path) -> float:
    with torch_threads(TRAINING_THREADS):
        images, labels = load_split(root / "data", train=True)
        test_images, test_labels = load_split(root / "data", train=False)
        model = d2l.LeNet(lr=LEARNING_RATE)
        model.apply_init([torch.zeros(1, 1, 28, 28)], d2l.init_cnn)
        train_one_epoch(model, images, labels, BATCH_SIZE, LEARNING_RATE)
        wrong = 0
        with torch.no_grad():
            for start in range(0, len(test_labels), BATCH_SIZE):
                x = test_images[start : start + BATCH_SIZE].unsqueeze(1).float() / 255
                wrong += (model(x).argmax(1) != test_labels[start : start + BATCH_SIZE]).sum()
        return wrong.item() / len(test_labels)


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)  # a folder in which ../data is args.root, for stock d2l
        (root / "data").symlink_to(args.root.resolve(), target_is_directory=True)
        (root / "notebooks").mkdir()
        load_split(root / "data", True), load_split(root / "data", False)
        ways = {"stock d2l": stock_d2l_epoch, "d2l_hpo": d2l_hpo_epoch, "bare loop": bare_epoch}
        seconds = {name: [] for name in ways}
        for seed in range(args.seeds):
            for name, epoch in ways.items():
                torch.manual_seed(seed)
                start = time.perf_counter()
                error = epoch(root)
                seconds[name].append(time.perf_counter() - start)
                print(
                    f"seed {seed} {name:>9}: {seconds[name][-1]:6.2f} s, "
                    f"validation error {error:.4f}",
                    flush=True,
                )
    median = {name: statistics.median(s) for name, s in seconds.items()}
    print(
        f"\nOne LeNet epoch (batch size {BATCH_SIZE}, lr {LEARNING_RATE}), median of "
        f"{args.seeds} seeds, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads for stock d2l, {TRAINING_THREADS} for the others:"
    )
    for name in ways:
        ratio = median[name] / median["bare loop"]
        print(f"  {name:>9}: {median[name]:6.2f} s/epoch  ({ratio:5.2f}x the bare loop)")
    print(f"  d2l_hpo is {median['stock d2l'] / median['d2l_hpo']:.2f}x faster than stock d2l")


if __name__ == "__main__":
    main()
