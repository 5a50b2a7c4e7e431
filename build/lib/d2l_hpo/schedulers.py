"""Schedulers decide *when* to run a configuration and with how many epochs.

The chapter's `HPOScheduler` interface (19.2.2): `suggest` is called whenever a
worker is free, `update` whenever a trial has a result. A scheduler asks its
searcher which configuration to try. `BasicScheduler` runs each configuration
once, as random search does; `SuccessiveHalvingScheduler` (19.4) runs many for few
epochs and promotes the best to more, setting ``max_epochs`` in the configuration.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque

from d2l_hpo.checks import integer
from d2l_hpo.searchers import HPOSearcher

#: The configuration key through which a scheduler sets a trial's budget.
RESOURCE = "max_epochs"


def failed(error: float, info=None) -> bool:
    """Whether a result is a failed trial's (its error is NaN)."""
    return math.isnan(error) or bool(getattr(info, "failed", False))


class HPOScheduler:
    """Decides when and how long configurations run; None from `suggest` ends."""

    def suggest(self) -> dict | None:
        raise NotImplementedError

    def update(self, config: dict, error: float, info=None) -> None:
        raise NotImplementedError


class BasicScheduler(HPOScheduler):
    """Hands out the searcher's next configuration whenever a worker is free."""

    def __init__(self, searcher: HPOSearcher):
        self.searcher = searcher

    def suggest(self) -> dict | None:
        return self.searcher.sample_configuration()

    def update(self, config: dict, error: float, info=None) -> None:
        if not failed(error, info):
            self.searcher.update(config, error, additional_info=info)


def rung_levels(r_min: int, r_max: int, eta: int) -> list[int]:
    """``r_min, r_min * eta, r_min * eta**2, ...`` below `r_max`, then `r_max`.

    Computed with integers: the chapter's ``int(log(r_max / r_min) / log(eta))``
    undercounts when the ratio of logarithms rounds down (``log 1000 / log 10``).
    """
    levels = [r_min]
    while levels[-1] * eta < r_max:
        levels.append(levels[-1] * eta)
    return levels + [r_max]


class SuccessiveHalvingScheduler(HPOScheduler):
    """Successive halving (19.4.1): of each rung's results, the best 1/eta go on.

    A round starts ``prefact * eta**K`` configurations at `r_min` epochs; each rung
    promotes the best ``1/eta`` of its configurations to the next rung level, up to
    `r_max`. Promoted configurations go to the *front* of the queue (the chapter's
    code served them last), the searcher's configurations are copied (the chapter
    wrote ``max_epochs`` into them), and a failed trial ranks last. With
    `use_checkpoints`, the tuner gives the objective a checkpoint, so a promotion
    trains only the epochs it lacks instead of starting from scratch.
    """

    def __init__(
        self,
        searcher: HPOSearcher,
        eta: int,
        r_min: int,
        r_max: int,
        prefact: int = 1,
        use_checkpoints: bool = False,
    ):
        self.searcher = searcher
        self.eta = integer(eta, "eta", minimum=2)
        self.r_min = integer(r_min, "r_min", minimum=1)
        self.r_max = integer(r_max, "r_max", minimum=self.r_min + 1)
        self.prefact = integer(prefact, "prefact", minimum=1)
        self.use_checkpoints = bool(use_checkpoints)
        self.rung_levels = rung_levels(self.r_min, self.r_max, self.eta)
        self.K = len(self.rung_levels) - 1
        # The current round's results per rung, and every result (for plots).
        self.observed_error_at_rungs = defaultdict(list)
        self.all_observed_error_at_rungs = defaultdict(list)
        self.queue: deque[dict] = deque()

    def suggest(self) -> dict | None:
        if not self.queue:
            for _ in range(self.prefact * self.eta**self.K):
                config = self.searcher.sample_configuration()
                if config is None:
                    break
                self.queue.append({**config, "max_epochs": self.r_min})
        return self.queue.popleft() if self.queue else None

    def update(self, config: dict, error: float, info=None) -> None:
        ri = int(config["max_epochs"])
        if not failed(error, info):
            self.searcher.update(config, error, additional_info=info)
        self.all_observed_error_at_rungs[ri].append((config, error))
        if ri < self.r_max:
            self.observed_error_at_rungs[ri].append((config, error))
            ki = self.K - self.rung_levels.index(ri)
            ni = self.prefact * self.eta**ki
            if len(self.observed_error_at_rungs[ri]) >= ni:
                niplus1 = self.prefact * self.eta ** (ki - 1)
                best = self.get_top_n_configurations(rung_level=ri, n=niplus1)
                riplus1 = self.rung_levels[self.K - ki + 1]
                promoted = [{**c, "max_epochs": riplus1} for c in best]
                self.queue.extendleft(reversed(promoted))  # ahead of a new round
                self.observed_error_at_rungs[ri] = []

    def get_top_n_configurations(self, rung_level: int, n: int) -> list[dict]:
        """The `n` configurations with the lowest errors at the current rung.

        Ties keep the order of the results; failed trials (NaN) rank last.
        """
        rung = self.observed_error_at_rungs[rung_level]
        ranked = sorted(
            rung, key=lambda ce: math.inf if math.isnan(ce[1]) else ce[1]
        )
        return [config for config, _ in ranked[:n]]
