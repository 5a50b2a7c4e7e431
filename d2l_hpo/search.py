"""Searchers propose configurations; `run_search` evaluates them one trial at a time.

The split follows Syne Tune: a searcher only decides *what* to try next
(`sample_configuration`) and learns from results (`update`), while the loop
that runs trials, seeds them, times them and records them is shared. Later
sections add searchers and schedulers without touching the trial records.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from d2l_hpo.space import check_config_space, grid_values, sample_config

Objective = Callable[[dict], float]


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration: what was tried, what it scored, how long it took."""

    trial_id: int
    config: dict
    error: float
    runtime: float  # seconds of wall-clock time


class Searcher:
    """Proposes configurations. `sample_configuration` returns None when it has no more."""

    def sample_configuration(self) -> dict | None:
        raise NotImplementedError

    def update(self, config: dict, error: float) -> None:
        """Learn from a finished trial; searchers that do not adapt ignore it."""


class RandomSearcher(Searcher):
    """Samples each hyperparameter independently from its distribution.

    All draws come from one generator seeded with `seed`, so the same seed
    gives the same sequence of configurations.
    """

    def __init__(self, config_space: Mapping[str, Any], seed: int = 0):
        check_config_space(config_space)
        self.config_space = dict(config_space)
        self.rng = np.random.default_rng(seed)

    def sample_configuration(self) -> dict:
        return sample_config(self.config_space, self.rng)


class GridSearcher(Searcher):
    """Walks the Cartesian product of the values listed for each hyperparameter."""

    def __init__(self, grid: Mapping[str, Iterable[Any]]):
        if not grid:
            raise ValueError("the grid has no hyperparameters")
        self.grid = {}
        for name, values in grid.items():
            if isinstance(values, str) or not isinstance(values, Iterable):
                raise ValueError(
                    f"hyperparameter {name!r}: a grid needs a list of values, got {values!r}"
                )
            self.grid[name] = list(values)
            if not self.grid[name]:
                raise ValueError(f"hyperparameter {name!r}: the grid has no values")
        self._configs: Iterator[tuple] = itertools.product(*self.grid.values())

    def __len__(self) -> int:
        return math.prod(len(values) for values in self.grid.values())

    def sample_configuration(self) -> dict | None:
        values = next(self._configs, None)
        return None if values is None else dict(zip(self.grid, values, strict=True))


def equispaced_grid(config_space: Mapping[str, Any], num: int) -> dict[str, list]:
    """`num` equispaced values per hyperparameter (log-spaced on a log scale)."""
    check_config_space(config_space)
    return {name: grid_values(dist, num) for name, dist in config_space.items()}


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def trial_seed(search_seed: int, trial_id: int) -> int:
    """A seed for one trial, derived from the search's seed and the trial's number."""
    return int(np.random.SeedSequence([search_seed, trial_id]).generate_state(1)[0])


@dataclass
class SearchResults:
    """The trials of a search, in the order they finished."""

    trials: list[Trial] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trials)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial: its id, each hyperparameter, the error and the runtime."""
        rows = [
            {"trial_id": t.trial_id, **t.config, "error": t.error, "runtime": t.runtime}
            for t in self.trials
        ]
        return pd.DataFrame(rows).set_index("trial_id") if rows else pd.DataFrame()

    def best(self) -> Trial:
        """The trial with the lowest error (the first of equals); NaN errors never win."""
        scored = [t for t in self.trials if not math.isnan(t.error)]
        if not scored:
            raise ValueError("no trial has finished with an error to compare")
        return min(scored, key=lambda t: t.error)

    @property
    def best_config(self) -> dict:
        return self.best().config

    def incumbent_trajectory(self) -> np.ndarray:
        """The lowest error seen after each trial (NaN until one has a number)."""
        errors = np.array([t.error for t in self.trials], dtype=float)
        return np.fmin.accumulate(errors) if len(errors) else errors


def format_config(config: Mapping[str, Any]) -> str:
    """``name = value`` pairs, floats to 4 significant digits."""
    return ", ".join(
        f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in config.items()
    )


def run_search(
    objective: Objective,
    searcher: Searcher,
    num_trials: int | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
) -> SearchResults:
    """Evaluate up to `num_trials` configurations of `searcher`, one after another.

    With ``num_trials=None`` it runs until the searcher has no more configurations,
    which suits a finite searcher such as `GridSearcher`; a searcher is consumed by
    the search, like an iterator.

    Each trial starts from `trial_seed(seed, trial_id)`, so a search is
    reproducible and a trial's result does not depend on the trials before
    it. With `progress`, it prints a line per trial as it starts and ends.
    """
    if num_trials is None and isinstance(searcher, RandomSearcher):
        raise ValueError("random search needs num_trials: its searcher never runs out")
    if num_trials is not None and num_trials < 1:
        raise ValueError(f"num_trials must be at least 1, got {num_trials}")
    results = SearchResults()
    for trial_id in itertools.count():
        if num_trials is not None and trial_id >= num_trials:
            break
        config = searcher.sample_configuration()
        if config is None:
            break
        if progress:
            print(f"Trial {trial_id}: {format_config(config)}", end="", flush=True)
        seed_everything(trial_seed(seed, trial_id))
        start = time.perf_counter()
        error = float(objective(config))
        runtime = time.perf_counter() - start
        if progress:
            print(f" -> validation error {error:.4f}", flush=True)
        searcher.update(config, error)
        results.trials.append(Trial(trial_id, config, error, runtime))
    return results


def random_search(
    objective: Objective,
    config_space: Mapping[str, Any],
    num_trials: int,
    seed: int = 0,
    *,
    progress: bool = True,
) -> SearchResults:
    """Random search: `num_trials` configurations drawn independently from `config_space`."""
    return run_search(
        objective, RandomSearcher(config_space, seed), num_trials, seed=seed, progress=progress
    )


def grid_search(
    objective: Objective,
    grid: Mapping[str, Iterable[Any]],
    seed: int = 0,
    *,
    progress: bool = True,
) -> SearchResults:
    """Grid search: every configuration of the Cartesian product of `grid`'s values."""
    return run_search(objective, GridSearcher(grid), seed=seed, progress=progress)
