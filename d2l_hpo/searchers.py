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
