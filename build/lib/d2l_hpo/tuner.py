"""The tuner runs trials one after another and keeps the books (19.2.3, 19.2.4).

`HPOTuner` asks its scheduler for a configuration, evaluates the objective on
it, records the trial and tells the scheduler. The chapter's tuner did the same;
this one also seeds each configuration, passes the scheduler what it learns (the
chapter never passed ``info``), accepts 19.1's objectives (a dict, a float) as
well as 19.2's (keywords, a tensor), and loses nothing:

- a trial that raises, or returns anything but a finite number >= 0, is recorded as
  failed and the search goes on;
- Ctrl-C ends `run` with every finished trial kept; the trial it cut short is run
  again, with the same configuration, by the next `run`;
- with a `journal` file, each trial is written to disk as it ends, and a new tuner
  on the same file (after a kernel restart or a killed process) resumes the search
  without running a finished trial again, ending with the same records as a search
  that was never interrupted.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from d2l_hpo.checkpoints import CheckpointStore
from d2l_hpo.checks import integer
from d2l_hpo.journal import Journal, JournalError, plain
from d2l_hpo.schedulers import RESOURCE, HPOScheduler
from d2l_hpo.seeding import seed_everything, trial_seed

COMPLETED, FAILED = "completed", "failed"
#: Progress lines fit this many characters where they can (a notebook's column).
PROGRESS_WIDTH = 80


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration: what was tried, its score, how long it took.

    A failed trial has ``status == "failed"``, a NaN `error`, and in `message` the
    type and text of what went wrong (`traceback` has the full traceback, if any).
    `curve` holds the ``(epoch, validation error)`` pairs the objective reported,
    and `config_id` numbers the distinct configurations (the same hyperparameters
    trained to another number of epochs keep their id).
    """

    trial_id: int
    config: dict
    error: float
    runtime: float  # seconds: wall-clock, or simulated where the objective says so
    status: str = COMPLETED
    message: str = ""
    traceback: str = field(default="", repr=False, compare=False)
    curve: tuple[tuple[int, float], ...] = field(default=(), repr=False)
    config_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def epochs_trained(self) -> int:
        """Epochs this trial trained (fewer than its budget when continued)."""
        return len(self.curve)


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
        errors = np.array([t.error for t in self.trials], dtype=float)
        return np.fmin.accumulate(errors) if len(errors) else errors

    def cumulative_runtime(self) -> np.ndarray:
        """Seconds spent after each trial, failed trials included."""
        return np.cumsum([t.runtime for t in self.trials], dtype=float)

    def incumbent_at(self, times) -> np.ndarray:
        """The lowest error found by each of `times` (seconds; NaN before any)."""
        found = np.searchsorted(self.cumulative_runtime(), times, side="right")
        best = np.append(math.nan, self.incumbent_trajectory())
        return best[found]


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


def wrap_pairs(text: str, width: int = PROGRESS_WIDTH) -> list[str]:
    """`text` in lines of at most `width`, broken after commas, indented after
    the first (a long configuration in a progress line)."""
    lines = [""]
    for part in text.split(", "):
        candidate = (
            f"{lines[-1]}, {part}" if lines[-1].strip() else lines[-1] + part
        )
        if len(candidate) > width and lines[-1].strip():
            lines[-1] += ","
            lines.append("    " + part)
        else:
            lines[-1] = candidate
    return lines


def call_objective(objective: Callable, config: dict, **extras) -> Any:
    """Call `objective` on `config` the way it is written.

    The chapter's objectives take the hyperparameters as keywords
    (``hpo_objective_lenet(learning_rate, batch_size, max_epochs)``), 19.1's take
    one dict (``objective(config, max_epochs=8)``): keywords are used when the
    objective's parameters accept the configuration's names. A ``max_epochs`` that
    a scheduler set goes to a dict-taking objective as a keyword. `extras`
    (``report``, ``checkpoint``) are passed only to objectives that name them.
    """
    signature = inspect.signature(objective)
    named = {
        name
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    extras = {k: v for k, v in extras.items() if k in named}
    try:
        signature.bind(**config, **extras)
    except TypeError:
        config = dict(config)
        if RESOURCE in config and RESOURCE in named:
            extras[RESOURCE] = config.pop(RESOURCE)
        return objective(config, **extras)
    return objective(**config, **extras)


def hyperparameters(config: Mapping[str, Any]) -> str:
    """A configuration's identity: its values without ``max_epochs``."""
    return json.dumps(
        {k: v for k, v in config.items() if k != RESOURCE},
        sort_keys=True,
        default=str,
    )


class HPOTuner:
    """Runs trials one after another and records them (the chapter's `HPOTuner`).

    Each configuration starts from ``trial_seed(seed, config_id)``, so a search is
    reproducible and a configuration's result does not depend on the trials before
    it; trained further (successive halving), it keeps its seed. With `journal` (a
    file), trials are written to it as they end and a tuner made on an existing
    journal resumes that search. `checkpoints` (a `CheckpointStore`) keeps training
    states for schedulers that continue trials; with a journal they are kept in
    files beside it. With `progress`, a line per trial is printed.
    """

    def __init__(
        self,
        scheduler: HPOScheduler,
        objective: Callable,
        *,
        seed: int = 0,
        journal: str | os.PathLike | None = None,
        checkpoints: CheckpointStore | None = None,
        progress: bool = True,
        results: SearchResults | None = None,
    ):
        self.scheduler, self.objective = scheduler, objective
        self.seed = integer(seed, "seed", minimum=0)
        self.progress = progress
        self.results = SearchResults() if results is None else results
        self.journal = None if journal is None else Journal(journal, self.seed)
        if checkpoints is None:
            folder = None if journal is None else f"{journal}.checkpoints"
            checkpoints = CheckpointStore(folder)
        self.checkpoints = checkpoints
        self._config_ids: dict[str, int] = {}
        for trial in self.results.trials:
            self.config_id(trial.config)
        self._pending: dict | None = None  # suggested, not yet finished
        if self.journal is not None:
            self._replay(self.journal.read())

    # The chapter's bookkeeping (19.2.4), derived from the trials.
    @property
    def records(self) -> list[dict]:
        return [
            {"config": t.config, "error": t.error, "runtime": t.runtime}
            for t in self.results.trials
        ]

    @property
    def incumbent(self) -> dict | None:
        return self.results.best().config if self._completed() else None

    @property
    def incumbent_error(self) -> float | None:
        return self.results.best().error if self._completed() else None

    @property
    def incumbent_trajectory(self) -> list[float]:
        return self.results.incumbent_trajectory().tolist()

    @property
    def cumulative_runtime(self) -> list[float]:
        return self.results.cumulative_runtime().tolist()

    def _completed(self) -> bool:
        return any(not t.failed for t in self.results.trials)

    def config_id(self, config: Mapping[str, Any]) -> int:
        """The number of a configuration, in the order they were first suggested."""
        return self._config_ids.setdefault(
            hyperparameters(config), len(self._config_ids)
        )

    def run(self, number_of_trials: int | None = None) -> None:
        """Run trials until there are `number_of_trials`, or the scheduler stops.

        Trials resumed from the journal count, so running the same cell again after
        a restart finishes the search instead of starting it over. As the chapter's,
        it returns nothing: the trials are in `results` (and `records`).
        """
        if number_of_trials is not None:
            number_of_trials = integer(
                number_of_trials, "number_of_trials", minimum=1
            )
        self.results.interrupted = False  # a resumed search is whole again
        try:
            while number_of_trials is None or len(self.results) < number_of_trials:
                start = time.perf_counter()
                if self._pending is None:
                    self._pending = self.scheduler.suggest()
                if self._pending is None:
                    break
                trial = self.evaluate(self._pending, start)
                self.bookkeeping(trial)
                self._pending = None
                self.scheduler.update(trial.config, trial.error, info=trial)
        except KeyboardInterrupt:
            self.results.interrupted = True
            if self.progress:
                print(
                    "\nInterrupted: the trial under way is dropped, the finished "
                    "ones are kept."
                )
        if self.progress:
            print(f"Search done: {self.results.summary()}.", flush=True)

    def evaluate(self, config: dict, start: float | None = None) -> Trial:
        """One seeded, timed trial of `config`; an exception or bad result fails it.

        The runtime counts from `start` (by default now), so it can include the
        scheduler's decision, as in the chapter; an objective that reports
        ``seconds`` per epoch (a simulation) is timed by those instead.
        """
        start = time.perf_counter() if start is None else start
        trial_id, config_id = len(self.results), self.config_id(config)
        if self.progress:
            lines = wrap_pairs(f"Trial {trial_id}: {format_config(config)}")
            # The result follows on this line, or on the next if it does not fit.
            result = len(" -> validation error 0.0000")
            fits = len(lines[-1]) + result <= PROGRESS_WIDTH
            print("\n".join(lines), end="" if fits else "\n   ", flush=True)
        curve, simulated = [], []

        def report(epoch: int, validation_error: float, seconds=None) -> None:
            curve.append((int(epoch), float(validation_error)))
            if seconds is not None:
                simulated.append(float(seconds))

        uses_checkpoints = getattr(self.scheduler, "use_checkpoints", False)
        checkpoint = self.checkpoints.slot(config_id) if uses_checkpoints else None
        seed_everything(trial_seed(self.seed, config_id))
        status, message, details = COMPLETED, "", ""
        try:
            result = call_objective(
                self.objective, config, report=report, checkpoint=checkpoint
            )
            error = checked_error(result, trial_id)
        except Exception as err:
            # Any failure of a trial is recorded, and the search goes on.
            error, status = math.nan, FAILED
            message = f"{type(err).__name__}: {err}"
            details = traceback.format_exc()
        runtime = sum(simulated) if simulated else time.perf_counter() - start
        if self.progress:
            done = f"validation error {error:.4f}" if status == COMPLETED else ""
            print(f" -> {done or 'failed: ' + message}", flush=True)
        return Trial(
            trial_id,
            config,
            error,
            runtime,
            status,
            message,
            details,
            tuple(curve),
            config_id,
        )

    def bookkeeping(self, trial: Trial) -> None:
        """Record a finished trial: first in the journal, then in the results."""
        if self.journal is not None:
            entry = asdict(trial)
            entry["config"] = plain(entry["config"])
            self.journal.append(entry)
        self.results.record(trial)

    def _replay(self, entries: list[dict]) -> None:
        """Bring a fresh scheduler to where the journal's search stood.

        Each journaled trial is suggested again (and must be the same configuration,
        or the journal belongs to another search) and its result is passed to the
        scheduler, without running the objective.
        """
        for entry in entries:
            config = self.scheduler.suggest()
            if config is None or plain(config) != entry["config"]:
                raise JournalError(
                    f"trial {entry['trial_id']} of the journal "
                    f"{self.journal.path} "
                    f"is {entry['config']}, but this search suggests {config}: "
                    "the journal belongs to another search (scheduler, searcher "
                    "or seed)"
                )
            entry = entry | {
                "config": config,
                "curve": tuple(tuple(point) for point in entry["curve"]),
            }
            trial = Trial(**entry)
            self.config_id(config)
            self.results.record(trial)
            self.scheduler.update(config, trial.error, info=trial)
        if entries and self.progress:
            print(
                f"Resumed from {self.journal.path.name}: {self.results.summary()}.",
                flush=True,
            )
