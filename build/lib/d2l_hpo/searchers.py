"""Searchers decide *what* to try next: `sample_configuration`, and learn: `update`.

The chapter's `HPOSearcher` interface (19.2.1), with its bug fixed (its
``sample_configuration`` had no ``self``). When to run a configuration and for how
long is a scheduler's job (`d2l_hpo.schedulers`), and running it is the tuner's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from d2l_hpo.checks import integer
from d2l_hpo.space import check_config_space, grid_values, sample_config


class HPOSearcher:
    """Proposes configurations; `sample_configuration` returns None when done."""

    def sample_configuration(self) -> dict | None:
        raise NotImplementedError

    def update(self, config: dict, error: float, additional_info=None) -> None:
        """Learn from a finished trial; searchers that do not adapt ignore it."""


class RandomSearcher(HPOSearcher):
    """Samples each hyperparameter independently from its distribution.

    All draws come from one generator seeded with `seed`, so the same seed gives
    the same sequence of configurations. An `initial_config` (such as a model's
    defaults) is proposed first, as a copy: the caller's dict is never changed.
    """

    def __init__(
        self,
        config_space: Mapping[str, Any],
        initial_config: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
    ):
        check_config_space(config_space)
        if initial_config is not None and not isinstance(initial_config, Mapping):
            raise ValueError(
                "initial_config must be a dict of hyperparameters, "
                f"got {initial_config!r}"
            )
        self.config_space = dict(config_space)
        self.initial_config = (
            None if initial_config is None else dict(initial_config)
        )
        self.rng = np.random.default_rng(integer(seed, "seed", minimum=0))

    def sample_configuration(self) -> dict:
        if self.initial_config is not None:
            config, self.initial_config = self.initial_config, None
            return config
        return sample_config(self.config_space, self.rng)


class GridSearcher(HPOSearcher):
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


class LocalSearcher(HPOSearcher):
    """Random search that, with probability `probab_local`, explores near the best.

    Exercise 2 of 19.2: after `num_init_random` random configurations, it returns
    the best configuration so far with one hyperparameter, chosen at random, drawn
    anew; otherwise (probability ``1 - probab_local``) a random configuration.
    """

    def __init__(
        self,
        config_space: Mapping[str, Any],
        probab_local: float = 0.5,
        num_init_random: int = 3,
        initial_config: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
    ):
        if not 0 <= probab_local <= 1:
            raise ValueError(
                f"probab_local must be in [0, 1], got {probab_local!r}"
            )
        self.random_searcher = RandomSearcher(
            config_space, initial_config, seed=seed
        )
        self.config_space = self.random_searcher.config_space
        self.probab_local = probab_local
        self.num_init_random = integer(
            num_init_random, "num_init_random", minimum=0
        )
        self.rng = np.random.default_rng([seed, 1])  # apart from the random draws
        self.num_sampled = 0
        self.best_config, self.best_error = None, math.inf

    def sample_configuration(self) -> dict:
        self.num_sampled += 1
        local = self.rng.random() < self.probab_local
        if (
            self.num_sampled <= self.num_init_random
            or self.best_config is None
            or not local
        ):
            return self.random_searcher.sample_configuration()
        name = list(self.config_space)[self.rng.integers(len(self.config_space))]
        value = sample_config({name: self.config_space[name]}, self.rng)[name]
        return {**self.best_config, name: value}

    def update(self, config: dict, error: float, additional_info=None) -> None:
        if error < self.best_error:  # the first of equals stays
            self.best_error = error
            self.best_config = {name: config[name] for name in self.config_space}
