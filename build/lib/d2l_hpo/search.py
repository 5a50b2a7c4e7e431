"""19.1's searches, `random_search` and `grid_search`, as uses of 19.2's machinery.

`run_search` runs a searcher's configurations through an `HPOTuner` with a
`BasicScheduler`: there is one trial loop in the library, the tuner's, which seeds,
times and records every trial and loses none of them (see `d2l_hpo.tuner`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from d2l_hpo.checks import integer
from d2l_hpo.schedulers import BasicScheduler
from d2l_hpo.searchers import GridSearcher, HPOSearcher, RandomSearcher
from d2l_hpo.tuner import HPOTuner, SearchResults

Objective = Callable[[dict], float]


def run_search(
    objective: Objective,
    searcher: HPOSearcher,
    num_trials: int | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    results: SearchResults | None = None,
) -> SearchResults:
    """Evaluate up to `num_trials` configurations of `searcher`, one after another.

    With ``num_trials=None`` it runs until the searcher has no more configurations,
    which suits a finite searcher such as `GridSearcher`; a searcher is consumed by
    the search, like an iterator. Each configuration starts from its own seed, and
    a trial that raises or returns a bad result is recorded as failed (`HPOTuner`).
    Trials are added to `results` if given (numbered after the ones it holds), so a
    caller who holds it keeps them whatever happens, Ctrl-C included.
    """
    if num_trials is not None:
        num_trials = integer(num_trials, "num_trials", minimum=1)
    if num_trials is None and isinstance(searcher, RandomSearcher):
        raise ValueError(
            "random search needs num_trials: its searcher never runs out"
        )
    tuner = HPOTuner(
        BasicScheduler(searcher),
        objective,
        seed=seed,
        progress=progress,
        results=results,
    )
    tuner.run(None if num_trials is None else len(tuner.results) + num_trials)
    return tuner.results


def random_search(
    objective: Objective,
    config_space: Mapping[str, Any],
    num_trials: int,
    seed: int = 0,
    *,
    progress: bool = True,
) -> SearchResults:
    """Random search: `num_trials` configurations drawn from `config_space`."""
    searcher = RandomSearcher(config_space, seed=seed)
    return run_search(objective, searcher, num_trials, seed=seed, progress=progress)


def grid_search(
    objective: Objective,
    grid: Mapping[str, Iterable[Any]],
    seed: int = 0,
    *,
    progress: bool = True,
) -> SearchResults:
    """Grid search: every configuration in the Cartesian product of `grid`."""
    return run_search(objective, GridSearcher(grid), seed=seed, progress=progress)
