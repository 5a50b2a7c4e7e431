"""Searchers propose configurations; `run_search` evaluates them, one at a time.

The split follows Syne Tune: a searcher only decides *what* to try next
(`sample_configuration`) and learns from results (`update`), while the loop
that runs trials, seeds them, times them and records them is shared. Later
sections add searchers and schedulers without touching the trial records.

No trial is lost: one that raises or returns something other than a finite,
non-negative number is recorded as failed and the search goes on, and Ctrl-C
ends the search with every finished trial kept. `SearchResults.record` is the
one place a finished trial goes, so a journal on disk can extend it.
"""

from __future__ import annotations

import itertools
import math
import numbers
import random
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from d2l_hpo.checks import integer
from d2l_hpo.space import check_config_space, grid_values, sample_config

Objective = Callable[[dict], float]


COMPLETED, FAILED = "completed", "failed"


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration: what was tried, its score, how long it took.

    A failed trial has ``status == "failed"``, a NaN `error`, and in `message` the
    type and text of what went wrong (`traceback` has the full traceback, if any).
    """

    trial_id: int
    config: dict
    error: float
    runtime: float  # seconds of wall-clock time
    status: str = COMPLETED
    message: str = ""
    traceback: str = field(default="", repr=False, compare=False)

    @property
    def failed(self) -> bool:
        return self.status == FAILED


class Searcher:
    """Proposes configurations; `sample_configuration` returns None when done."""

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
        self.rng = np.random.default_rng(integer(seed, "seed", minimum=0))

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
                    f"hyperparameter {name!r}: a grid needs a list of values, "
                    f"got {values!r}"
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
    """Seed Python's, NumPy's and PyTorch's global generators (and GPUs', if any).

    Like ``torch.manual_seed``, without its cost on machines without a GPU: there it
    records a traceback for GPUs that may be initialized later, about a millisecond,
    which dominated searches over cheap objectives.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def trial_seed(search_seed: int, trial_id: int) -> int:
    """A seed for one trial, from the search's seed and the trial's number."""
    return int(np.random.SeedSequence([search_seed, trial_id]).generate_state(1)[0])


@dataclass
class SearchResults:
    """The trials of a search, in the order they finished, failed ones included.

    `interrupted` is true when Ctrl-C ended the search before its budget was spent.
    """

    trials: list[Trial] = field(default_factory=list)
    interrupted: bool = False

    def __len__(self) -> int:
        return len(self.trials)

    def record(self, trial: Trial) -> None:
        """Keep a finished or failed trial (the one place trials are added)."""
        self.trials.append(trial)

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.failed]

    def summary(self) -> str:
        """How many trials completed and failed; whether the search was stopped."""
        failed = len(self.failed)
        done = len(self.trials) - failed
        text = f"{len(self.trials)} trials: {done} completed, {failed} failed"
        return text + (" (interrupted)" if self.interrupted else "")

    def to_dataframe(self) -> pd.DataFrame:
        """A row per trial: id, each hyperparameter, error, status and runtime."""
        rows = [
            {"trial_id": t.trial_id, **t.config, "error": t.error}
            | {"status": t.status, "runtime": t.runtime}
            for t in self.trials
        ]
        return pd.DataFrame(rows).set_index("trial_id") if rows else pd.DataFrame()

    def best(self) -> Trial:
        """The completed trial with the lowest error (the first of equals)."""
        scored = [
            t for t in self.trials if not t.failed and not math.isnan(t.error)
        ]
        if not scored:
            why = (
                f"; the first failure: {self.failed[0].message}"
                if self.failed
                else ""
            )
            raise ValueError(
                f"no trial has completed with an error to compare{why}"
            )
        return min(scored, key=lambda t: t.error)

    @property
    def best_config(self) -> dict:
        return self.best().config

    def incumbent_trajectory(self) -> np.ndarray:
        """The lowest error seen after each trial (NaN until one has completed)."""
        errors = np.array(
            [math.nan if t.failed else t.error for t in self.trials], dtype=float
        )
        return np.fmin.accumulate(errors) if len(errors) else errors


def checked_error(value: Any, trial_id: int | None = None) -> float:
    """An objective's result as a float, or `ValueError` saying what is wrong.

    Accepted: a real number, or a tensor or array with one element, that is
    finite and not negative (an error rate or a loss). Refused: `bool`, NaN,
    infinities, negative numbers, strings, None and more than one element.
    """
    returned = (
        "the objective returned"
        if trial_id is None
        else f"trial {trial_id} returned"
    )
    # A tensor or an array:
    if hasattr(value, "numel") or isinstance(value, np.ndarray):
        size = value.numel() if hasattr(value, "numel") else value.size
        if size != 1:
            raise ValueError(f"{returned} {size} numbers instead of one")
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{returned} {value!r}, not a number")
    error = float(value)
    if not math.isfinite(error) or error < 0:
        raise ValueError(f"{returned} {error}, not a finite number >= 0")
    return error


def format_config(config: Mapping[str, Any]) -> str:
    """``name = value`` pairs, floats to 4 significant digits."""
    return ", ".join(
        f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
        for k, v in config.items()
    )


def run_search(
    objective: Objective,
    searcher: Searcher,
    num_trials: int | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    results: SearchResults | None = None,
) -> SearchResults:
    """Evaluate up to `num_trials` configurations of `searcher`, one after another.

    With ``num_trials=None`` it runs until the searcher has no more configurations,
    which suits a finite searcher such as `GridSearcher`; a searcher is consumed by
    the search, like an iterator.

    Each trial starts from `trial_seed(seed, trial_id)`, so a search is
    reproducible and a trial's result does not depend on the trials before
    it. A trial that raises, or returns anything but a finite number >= 0, is
    recorded as failed and the search goes on. Ctrl-C ends the search: the trial
    it cut short is dropped, the finished ones are returned, marked `interrupted`.
    Trials are added to `results` if given (numbered after the ones it holds),
    so a caller who holds it keeps them whatever happens. With `progress`, it
    prints a line per trial as it starts and ends, and a summary.
    """
    if num_trials is not None:
        num_trials = integer(num_trials, "num_trials", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    if num_trials is None and isinstance(searcher, RandomSearcher):
        raise ValueError(
            "random search needs num_trials: its searcher never runs out"
        )
    results = SearchResults() if results is None else results
    results.interrupted = False  # a search resumed after Ctrl-C is whole again
    first_id = len(results)
    try:
        for trial_id in itertools.count(first_id):
            if num_trials is not None and trial_id >= first_id + num_trials:
                break
            config = searcher.sample_configuration()
            if config is None:
                break
            trial = run_trial(objective, config, trial_id, seed, progress)
            results.record(trial)  # kept before the searcher sees it, come what may
            if not trial.failed:
                searcher.update(config, trial.error)
    except KeyboardInterrupt:
        results.interrupted = True
        if progress:
            print(
                "\nInterrupted: the trial under way is dropped, the finished ones "
                "are kept."
            )
    if progress:
        print(f"Search done: {results.summary()}.", flush=True)
    return results


def run_trial(
    objective: Objective, config: dict, trial_id: int, seed: int, progress: bool
):
    """Run one seeded, timed trial; an exception or a bad result fails it."""
    if progress:
        print(f"Trial {trial_id}: {format_config(config)}", end="", flush=True)
    seed_everything(trial_seed(seed, trial_id))
    start = time.perf_counter()
    try:
        error = checked_error(objective(config), trial_id)
    except Exception as err:
        # Any failure of a trial is recorded, and the search goes on.
        runtime = time.perf_counter() - start
        message = f"{type(err).__name__}: {err}"
        if progress:
            print(f" -> failed: {message}", flush=True)
        details = traceback.format_exc()
        return Trial(trial_id, config, math.nan, runtime, FAILED, message, details)
    runtime = time.perf_counter() - start
    if progress:
        print(f" -> validation error {error:.4f}", flush=True)
    return Trial(trial_id, config, error, runtime)


def random_search(
    objective: Objective,
    config_space: Mapping[str, Any],
    num_trials: int,
    seed: int = 0,
    *,
    progress: bool = True,
) -> SearchResults:
    """Random search: `num_trials` configurations drawn from `config_space`."""
    return run_search(
        objective,
        RandomSearcher(config_space, seed),
        num_trials,
        seed=seed,
        progress=progress,
    )


def grid_search(
    objective: Objective,
    grid: Mapping[str, Iterable[Any]],
    seed: int = 0,
    *,
    progress: bool = True,
) -> SearchResults:
    """Grid search: every configuration in the Cartesian product of `grid`."""
    return run_search(objective, GridSearcher(grid), seed=seed, progress=progress)
