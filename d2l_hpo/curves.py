"""Recorded LeNet learning curves, replayed as an objective with simulated time.

``scripts/learning_curves.py`` trained configurations of the chapter's space for 10
epochs each and wrote, after every epoch, the validation error and the seconds
the epoch took. `LearningCurves.objective` answers a configuration with the
nearest recorded one (on log scales) and charges the recorded seconds instead of
training, so comparing searchers over 50 seeds, or drawing successive halving's
rungs on real curves, takes seconds instead of hours.
"""

from __future__ import annotations

import os
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from d2l_hpo.checkpoints import Checkpoint
from d2l_hpo.checks import integer

#: The table that ships with the library (``scripts/learning_curves.py`` made it).
LENET_CURVES = resources.files("d2l_hpo") / "tables" / "lenet_curves.csv"


class LearningCurves:
    """A table of learning curves: a row per configuration and epoch.

    Columns: ``config_id``, the hyperparameters (``learning_rate``, ``batch_size``),
    ``epoch`` (from 1), ``validation_error`` and ``seconds`` (the epoch's cost).
    """

    def __init__(
        self, frame: pd.DataFrame, hyperparameters=("learning_rate", "batch_size")
    ):
        self.frame = frame.sort_values(["config_id", "epoch"]).reset_index(
            drop=True
        )
        self.hyperparameters = list(hyperparameters)
        self.configs = (
            self.frame.groupby("config_id")[self.hyperparameters]
            .first()
            .sort_index()
        )
        self.errors = self.frame.pivot(
            index="config_id", columns="epoch", values="validation_error"
        )
        self.seconds = self.frame.pivot(
            index="config_id", columns="epoch", values="seconds"
        )
        if self.errors.isna().any().any():
            raise ValueError("every configuration needs a row for every epoch")
        self.max_epochs = int(self.errors.columns.max())
        # Positions on log scales, each stretched to [0, 1], for nearest neighbours.
        logs = np.log(self.configs.to_numpy(dtype=float))
        self._low, self._span = logs.min(axis=0), np.ptp(logs, axis=0)
        self._points = (logs - self._low) / self._span

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> LearningCurves:
        """The library's LeNet table, or the CSV file at `path`."""
        with (LENET_CURVES if path is None else Path(path)).open() as f:
            return cls(pd.read_csv(f))

    def __len__(self) -> int:
        return len(self.configs)

    def config(self, config_id: int) -> dict:
        """A recorded configuration, each value of its own type (a batch size is an
        int, where a row of the table would hold it as a float)."""
        return self.configs.loc[[config_id]].to_dict("records")[0]

    def nearest(self, **config) -> int:
        """The id of the recorded configuration nearest to `config` (log scales)."""
        values = [config[name] for name in self.hyperparameters]
        point = (np.log(np.asarray(values, dtype=float)) - self._low) / self._span
        distances = ((self._points - point) ** 2).sum(axis=1)
        return int(self.configs.index[int(np.argmin(distances))])

    def objective(
        self,
        learning_rate: float,
        batch_size: int,
        max_epochs: int = 10,
        *,
        report=None,
        checkpoint: Checkpoint | None = None,
    ) -> float:
        """The recorded error of the nearest configuration after `max_epochs`.

        Reports every epoch with its recorded ``seconds``, so the tuner's clock is
        simulated; with `checkpoint`, a configuration continued from a shorter run
        is charged only for the epochs it adds.
        """
        max_epochs = integer(max_epochs, "max_epochs", minimum=1)
        if max_epochs > self.max_epochs:
            raise ValueError(
                f"the table has {self.max_epochs} epochs per configuration, "
                f"not {max_epochs}"
            )
        config_id = self.nearest(learning_rate=learning_rate, batch_size=batch_size)
        state = None if checkpoint is None else checkpoint.load()
        start = 0 if state is None else min(state["epoch"], max_epochs)
        for epoch in range(start + 1, max_epochs + 1):
            if report is not None:
                report(
                    epoch=epoch,
                    validation_error=float(self.errors.at[config_id, epoch]),
                    seconds=float(self.seconds.at[config_id, epoch]),
                )
        if report is not None and start == max_epochs:
            report(
                epoch=max_epochs,
                validation_error=self.error(config_id),
                seconds=0.0,
            )
        if checkpoint is not None:
            checkpoint.save({"epoch": max_epochs})
        return float(self.errors.at[config_id, max_epochs])

    def error(self, config_id: int, epoch: int | None = None) -> float:
        """A configuration's recorded validation error (after its last epoch)."""
        return float(
            self.errors.at[config_id, self.max_epochs if epoch is None else epoch]
        )


_TABLES: dict[str, LearningCurves] = {}


def replay_lenet(
    learning_rate: float,
    batch_size: int,
    max_epochs: int = 10,
    *,
    report=None,
    time_scale: float = 1.0,
    path: str | None = None,
) -> float:
    """`LearningCurves.objective` on the LeNet table, in real time: each epoch
    waits its recorded seconds times `time_scale`. Worker processes run it in
    place of training, where the timing is the point (tests, demonstrations)."""
    if not time_scale >= 0:
        raise ValueError(f"time_scale must be >= 0, got {time_scale!r}")
    key = str(path)
    if key not in _TABLES:
        _TABLES[key] = LearningCurves.load(path)

    def timed_report(epoch: int, validation_error: float, seconds: float) -> None:
        time.sleep(seconds * time_scale)
        if report is not None:
            report(epoch=epoch, validation_error=validation_error)

    return _TABLES[key].objective(
        learning_rate, batch_size, max_epochs, report=timed_report
    )
