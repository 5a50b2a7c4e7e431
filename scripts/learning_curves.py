"""Record real LeNet learning curves for 19.2.6 and 19.4: d2l_hpo/tables/lenet_curves.csv.

    .venv/bin/python scripts/learning_curves.py --jobs 2

Trains `--num-configs` configurations of the chapter's space (the first is LeNet's
default, learning rate 0.1 and batch size 128; the others are drawn by a seeded
`RandomSearcher`) for 10 epochs each, with `hpo_objective_lenet` as `HPOTuner` runs
it: configuration i starts from ``trial_seed(seed, i)``, on one torch thread. It
writes the validation error after every epoch and the seconds each epoch took
(training and validation), one row per epoch. Configurations already in the file are
kept, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import time
from pathlib import Path

from scipy import stats

from d2l_hpo.fashion_files import ensure_fashion_mnist
from d2l_hpo.objectives import hpo_objective_lenet
from d2l_hpo.searchers import RandomSearcher
from d2l_hpo.seeding import seed_everything, trial_seed

TABLE = Path(__file__).parents[1] / "d2l_hpo" / "tables" / "lenet_curves.csv"
COLUMNS = ["config_id", "learning_rate", "batch_size", "epoch", "validation_error", "seconds"]
CONFIG_SPACE = {"learning_rate": stats.loguniform(1e-2, 1), "batch_size": stats.randint(32, 256)}
INITIAL_CONFIG = {"learning_rate": 0.1, "batch_size": 128}


def configurations(num: int, seed: int) -> list[dict]:
    searcher = RandomSearcher(CONFIG_SPACE, initial_config=INITIAL_CONFIG, seed=seed)
    return [searcher.sample_configuration() for _ in range(num)]


def train(job: tuple[int, dict, int, int, str]) -> list[dict]:
    """One configuration's rows: its error and time after every epoch."""
    config_id, config, seed, max_epochs, root = job
    rows = []
    last = time.perf_counter()

    def report(epoch: int, validation_error: float) -> None:
        nonlocal last
        now = time.perf_counter()
        rows.append(
            {"config_id": config_id, **config, "epoch": epoch}
            | {"validation_error": validation_error, "seconds": round(now - last, 3)}
        )
        last = now

    seed_everything(trial_seed(seed, config_id))
    hpo_objective_lenet(**config, max_epochs=max_epochs, report=report, root=root)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-configs", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="processes, one thread each")
    parser.add_argument("--root", default="data")
    parser.add_argument("--out", type=Path, default=TABLE)
    args = parser.parse_args()
    ensure_fashion_mnist(args.root)
    done = set()
    if args.out.exists():
        with args.out.open() as f:
            done = {int(row["config_id"]) for row in csv.DictReader(f)}
    else:
        with args.out.open("w", newline="") as f:
            csv.DictWriter(f, COLUMNS).writeheader()
    configs = configurations(args.num_configs, args.seed)
    jobs = [
        (i, config, args.seed, args.max_epochs, args.root)
        for i, config in enumerate(configs)
        if i not in done
    ]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for rows in pool.imap_unordered(train, jobs):
            with args.out.open("a", newline="") as f:
                csv.DictWriter(f, COLUMNS).writerows(rows)
            last = rows[-1]
            print(
                f"config {last['config_id']}: {rows[0]['learning_rate']:.4g}, "
                f"{rows[0]['batch_size']} -> {last['validation_error']:.4f} "
                f"({sum(r['seconds'] for r in rows):.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
