"""Time one epoch of section 19.1's objective three ways, in one run on one machine.

1. stock d2l: ``d2l.FashionMNIST`` (torchvision, PIL transforms, 4 workers) and a
   ``d2l.Trainer`` with the chapter's ``validation_error``, batch size 16;
2. d2l_hpo: ``hpo_objective_softmax_classification`` with ``max_epochs=1``;
3. the floor: a bare PyTorch loop over in-memory tensors, with d2l_hpo's thread
   count (stock d2l runs with torch's default, one thread per core).

Each is timed as a search sees a trial (the images already decoded), once per
seed, with learning rate 0.1. Then, in fresh processes, the peak memory of a
bare ``from d2l import torch as d2l`` and of the same import plus one trial.

    .venv/bin/python benchmarks/epoch_time.py [--seeds 3] [--root data]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from arguments import benchmark_arguments
from bare_loop import train_one_epoch
from d2l import torch as d2l

from d2l_hpo import hpo_objective_softmax_classification
from d2l_hpo.data import load_split
from d2l_hpo.training import TRAINING_THREADS, torch_threads

# Stock d2l asks for 4 workers on this 2-core machine; torch warns, once per epoch.
warnings.filterwarnings("ignore", message="This DataLoader will create 4 worker processes")
LEARNING_RATE, BATCH_SIZE = 0.1, 16


class ChapterTrainer(d2l.Trainer):
    """The book's HPOTrainer, verbatim but for the minus sign the extraction lost."""

    def validation_error(self):
        self.model.eval()
        accuracy = 0
        val_batch_idx = 0
        for batch in self.val_dataloader:
            with torch.no_grad():
                x, y = self.prepare_batch(batch)
                y_hat = self.model(x)
                accuracy += self.model.accuracy(y_hat, y)
            val_batch_idx += 1
        return 1 - accuracy / val_batch_idx


def stock_d2l_epoch(root: Path) -> float:
    """One epoch of the chapter's objective on stock d2l parts (board not drawn)."""
    cwd = os.getcwd()
    os.chdir(root / "notebooks")  # stock d2l reads ../data
    try:
        trainer = ChapterTrainer(max_epochs=1)
        data = d2l.FashionMNIST(batch_size=BATCH_SIZE)
        model = d2l.SoftmaxRegression(num_outputs=10, lr=LEARNING_RATE)
        model.board.display = False
        trainer.fit(model=model, data=data)
        return float(trainer.validation_error())
    finally:
        os.chdir(cwd)


def d2l_hpo_epoch(root: Path) -> float:
    return hpo_objective_softmax_classification(
        {"learning_rate": LEARNING_RATE}, max_epochs=1, root=root / "data"
    )


def bare_epoch(root: Path) -> float:
    """The floor: a linear layer trained by a plain loop over in-memory tensors."""
    with torch_threads(TRAINING_THREADS):
        return _bare_epoch(root)


def _bare_epoch(root: Path) -> float:
    images, labels = load_split(root / "data", train=True)
    test_images, test_labels = load_split(root / "data", train=False)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(10))
    net(torch.zeros(1, 1, 28, 28))
    train_one_epoch(net, images, labels, BATCH_SIZE, LEARNING_RATE)
    with torch.no_grad():
        predictions = net(test_images.unsqueeze(1).float().div_(255)).argmax(1)
    return (predictions != test_labels).float().mean().item()


def memory_mb(code: str) -> tuple[float, float]:
    """Peak and final resident memory (MB) of a fresh Python process running `code`."""
    script = (
        f"{code}\nimport re, resource\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    peak, final = out.split()[-2:]
    return int(peak) / 1024, int(final) / 1024


def main() -> None:
    args = benchmark_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as folder:
        # A folder in which ../data is args.root, where stock d2l looks.
        root = Path(folder)
        (root / "data").symlink_to(args.root.resolve(), target_is_directory=True)
        (root / "notebooks").mkdir()
        run(root, args.seeds)


def run(root: Path, num_seeds: int) -> None:
    load_split(root / "data", True), load_split(root / "data", False)  # as after trial 1

    ways = {"stock d2l": stock_d2l_epoch, "d2l_hpo": d2l_hpo_epoch, "bare loop": bare_epoch}
    seconds = {name: [] for name in ways}
    errors = {name: [] for name in ways}
    for seed in range(num_seeds):
        for name, epoch in ways.items():
            torch.manual_seed(seed)
            start = time.perf_counter()
            errors[name].append(epoch(root))
            seconds[name].append(time.perf_counter() - start)
            print(f"seed {seed} {name:>9}: {seconds[name][-1]:6.2f} s, "
                  f"validation error {errors[name][-1]:.4f}", flush=True)  # fmt: skip

    median = {name: statistics.median(s) for name, s in seconds.items()}
    mean_error = {name: statistics.mean(e) for name, e in errors.items()}
    print(f"\nOne epoch of the 19.1 objective (batch size {BATCH_SIZE}, lr {LEARNING_RATE}), "
          f"median of {num_seeds} seeds, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads for stock d2l, {TRAINING_THREADS} for the "
          "others:")  # fmt: skip
    for name in ways:
        print(f"  {name:>9}: {median[name]:6.2f} s/epoch  "
              f"({median[name] / median['bare loop']:5.2f}x the bare loop)  "
              f"mean validation error {mean_error[name]:.4f}")  # fmt: skip
    print(f"  d2l_hpo is {median['stock d2l'] / median['d2l_hpo']:.1f}x faster than stock d2l")
    print(f"  |error(d2l_hpo) - error(stock d2l)| = "
          f"{abs(mean_error['d2l_hpo'] - mean_error['stock d2l']):.4f}")  # fmt: skip

    data_root = str(root / "data")
    base_peak, base_final = memory_mb("from d2l import torch as d2l")
    trial_peak, trial_final = memory_mb(
        "from d2l import torch as d2l\n"
        "from d2l_hpo import hpo_objective_softmax_classification as f\n"
        f"f({{'learning_rate': {LEARNING_RATE}}}, max_epochs=1, root={data_root!r})"
    )
    print("\nMemory (MB)                      peak  resident at the end")
    print(f"  from d2l import torch as d2l  {base_peak:6.0f}  {base_final:6.0f}")
    print(f"  ... and one d2l_hpo trial     {trial_peak:6.0f}  {trial_final:6.0f}")
    print(f"  a trial adds                  {trial_peak - base_peak:+6.0f}  "
          f"{trial_final - base_final:+6.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
