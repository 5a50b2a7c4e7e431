"""Configuration spaces: a dict from hyperparameter name to a distribution.

Floats use ``scipy.stats`` frozen distributions, as the chapter does
(``stats.loguniform(1e-4, 1)``, ``stats.uniform(0, 0.99)``). This module adds
what the chapter's MLP table needs and scipy lacks: integers on a log or a
linear scale and categorical choices. Every distribution samples with
``rvs(random_state=...)`` and lists equispaced values with `grid_values`.
Bounds are checked by `check_config_space`, which names the hyperparameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

RandomState = int | np.random.Generator | np.random.RandomState | None

#: Integer bounds must lie within +-2**53, where float64 (in which a log scale is
#: computed) still holds every integer exactly and int64 samples cannot overflow.
MAX_INTEGER_BOUND = 2**53


def _rng(random_state: RandomState) -> np.random.Generator | np.random.RandomState:
    if isinstance(random_state, np.random.Generator | np.random.RandomState):
        return random_state
    return np.random.default_rng(random_state)


class IntUniform:
    """Integers ``low..high`` (both included), equally likely."""

    log = False

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"

    def check(self) -> None:
        """Raise `ValueError` unless the bounds are integers with ``low < high``."""
        for bound in (self.low, self.high):
            if not isinstance(bound, int | np.integer) or isinstance(bound, bool):
                raise ValueError(f"{self!r}: bounds must be integers")
            if abs(bound) > MAX_INTEGER_BOUND:
                raise ValueError(
                    f"{self!r}: bounds must lie within +-2**53, got {bound}"
                )
        if not self.low < self.high:
            raise ValueError(
                f"{self!r}: needs low < high, got low={self.low}, high={self.high}"
            )
        if self.log and self.low <= 0:
            raise ValueError(
                f"{self!r}: a log scale needs low > 0, got low={self.low}"
            )

    def rvs(self, size: int | None = None, random_state: RandomState = None):
        """Draw one integer (or an array of `size`)."""
        self.check()
        values = _rng(random_state).integers(self.low, self.high + 1, size=size)
        return int(values) if size is None else values

    def grid(self, num: int) -> list[int]:
        """At most `num` distinct integers, equispaced, both ends included."""
        self.check()
        return sorted(
            {int(round(v)) for v in equispaced(self.low, self.high, num, self.log)}
        )


class IntLogUniform(IntUniform):
    """Integers ``low..high`` with a log-uniform density (``low > 0``).

    Draws ``u`` uniformly in ``[log(low - 0.5), log(high + 0.5))`` and rounds
    ``exp(u)``, so each integer ``k`` gets the log-width of
    ``[k - 0.5, k + 0.5)``: uniform in log space, as Optuna's log-int does.
    """

    log = True

    def rvs(self, size: int | None = None, random_state: RandomState = None):
        self.check()
        lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
        u = _rng(random_state).uniform(lo, hi, size=size)
        values = np.clip(np.round(np.exp(u)), self.low, self.high).astype(np.int64)
        return int(values) if size is None else values

    def pmf(self, k) -> np.ndarray:
        """Probability of each integer in `k` (zero outside the bounds)."""
        k = np.asarray(k, dtype=float)
        lo, hi = self.low - 0.5, self.high + 0.5
        width = np.log(np.clip(k + 0.5, lo, hi)) - np.log(np.clip(k - 0.5, lo, hi))
        return width / (math.log(hi) - math.log(lo))


class Categorical:
    """One of a finite list of choices, equally likely."""

    def __init__(self, choices: Sequence[Any]):
        # A string, or anything that is not a list of choices, is kept as given, so
        # that `check` can reject it in the name of its hyperparameter instead of
        # failing here or sampling a string's characters.
        is_list = isinstance(choices, Iterable) and not isinstance(choices, str)
        self.choices = tuple(choices) if is_list else choices

    def __repr__(self) -> str:
        shown = (
            list(self.choices) if isinstance(self.choices, tuple) else self.choices
        )
        return f"Categorical({shown!r})"

    def check(self) -> None:
        if not isinstance(self.choices, tuple):
            raise ValueError(
                f"{self!r}: choices must be a list, such as ['tanh', 'relu']"
            )
        if not self.choices:
            raise ValueError("Categorical([]): needs at least one choice")

    def rvs(self, size: int | None = None, random_state: RandomState = None):
        self.check()
        index = _rng(random_state).integers(len(self.choices), size=size)
        if size is None:
            return self.choices[int(index)]
        return [self.choices[int(i)] for i in index]

    def grid(self, num: int | None = None) -> list[Any]:
        """All the choices (a grid over categories takes each one)."""
        self.check()
        return list(self.choices)


def _is_scipy_frozen(dist: Any) -> bool:
    return isinstance(dist, stats.distributions.rv_frozen)


def _scipy_bounds(dist) -> tuple[float, float]:
    low, high = (float(b) for b in dist.support())
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"{dist.dist.name}{dist.args}: needs finite bounds with low < high, "
            f"got support ({low}, {high})"
        )
    return low, high


def is_log_scale(dist: Any) -> bool:
    """Whether the distribution is uniform on a log scale."""
    if _is_scipy_frozen(dist):
        return dist.dist.name in ("loguniform", "reciprocal")
    return bool(getattr(dist, "log", False))


def equispaced(low: float, high: float, num: int, log: bool) -> np.ndarray:
    """`num` values from `low` to `high`, equispaced on a linear or a log scale.

    A single value is the middle of the range (on its scale), not its lower end.
    """
    if num == 1:
        return np.array([math.sqrt(low * high) if log else (low + high) / 2])
    return (np.geomspace if log else np.linspace)(low, high, num)


def grid_values(dist: Any, num: int) -> list[Any]:
    """`num` values equispaced over a distribution's range (on its scale)."""
    if num < 1:
        raise ValueError(
            f"a grid needs at least one point per hyperparameter, got {num}"
        )
    if _is_scipy_frozen(dist):
        low, high = _scipy_bounds(dist)
        values = equispaced(low, high, num, is_log_scale(dist))
        # Integers: no 3.5 from randint(1, 7).
        if isinstance(dist.dist, stats.rv_discrete):
            return sorted({int(round(v)) for v in values})
        return [float(v) for v in values]
    return dist.grid(num)


def check_config_space(config_space: Mapping[str, Any]) -> None:
    """Raise `ValueError` naming the hyperparameter whose range is empty or bad."""
    if not config_space:
        raise ValueError("the configuration space has no hyperparameters")
    for name, dist in config_space.items():
        try:
            if _is_scipy_frozen(dist):
                _scipy_bounds(dist)
            elif hasattr(dist, "check") and hasattr(dist, "rvs"):
                dist.check()
            else:
                raise ValueError(
                    f"{dist!r} is not a distribution "
                    "(it needs rvs(random_state=...))"
                )
        except ValueError as err:
            raise ValueError(f"hyperparameter {name!r}: {err}") from None


def sample_config(
    config_space: Mapping[str, Any], rng: np.random.Generator
) -> dict:
    """One configuration: a value drawn from each distribution, as plain Python."""
    return {
        name: _plain(dist.rvs(random_state=rng))
        for name, dist in config_space.items()
    }


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones, so configs print and compare simply."""
    return value.item() if isinstance(value, np.generic) else value


def mlp_config_space() -> dict[str, Any]:
    """The table of typical MLP hyperparameters in section 19.1, ready to sample."""
    return {
        "learning_rate": stats.loguniform(1e-6, 1e-1),
        "batch_size": IntLogUniform(8, 256),
        "momentum": stats.uniform(0, 0.99),
        "activation": Categorical(["tanh", "relu"]),
        "num_units": IntLogUniform(32, 1024),
        "num_layers": IntUniform(1, 6),
    }


def lenet_config_space() -> dict[str, Any]:
    """The chapter's LeNet space (19.2 to 19.5): learning rate and batch size."""
    return {
        "learning_rate": stats.loguniform(1e-2, 1),
        "batch_size": stats.randint(32, 256),
    }


#: The distributions of this module, by name, for `space_to_json`.
_OWN = {"IntUniform": IntUniform, "IntLogUniform": IntLogUniform}


def space_to_json(config_space: Mapping[str, Any]) -> dict[str, dict]:
    """A configuration space as plain JSON, so that a worker process or another
    machine can rebuild it (`space_from_json`) and draw the very same values."""
    check_config_space(config_space)
    spec = {}
    for name, dist in config_space.items():
        if _is_scipy_frozen(dist):
            spec[name] = {
                "scipy": dist.dist.name,
                "args": [_plain(a) for a in dist.args],
                "kwds": {k: _plain(v) for k, v in dist.kwds.items()},
            }
        elif type(dist) is Categorical:
            spec[name] = {"d2l_hpo": "Categorical", "args": [list(dist.choices)]}
        elif type(dist) in _OWN.values():
            spec[name] = {
                "d2l_hpo": type(dist).__name__,
                "args": [dist.low, dist.high],
            }
        else:
            raise ValueError(
                f"hyperparameter {name!r}: {dist!r} cannot be written as JSON "
                "(scipy.stats distributions and those of d2l_hpo.space can)"
            )
    return spec


def space_from_json(spec: Mapping[str, Mapping]) -> dict[str, Any]:
    """The configuration space that `space_to_json` wrote."""
    space: dict[str, Any] = {}
    for name, entry in spec.items():
        if "scipy" in entry:
            dist = getattr(stats, entry["scipy"])
            space[name] = dist(*entry["args"], **entry.get("kwds", {}))
        else:
            kind = {**_OWN, "Categorical": Categorical}[entry["d2l_hpo"]]
            space[name] = kind(*entry["args"])
    check_config_space(space)
    return space
