"""Optuna studies for 19.3 and 19.5: one study, shared by worker processes.

A study lives in a storage that every worker opens: a file (Optuna's journal) or
SQLite on one machine, PostgreSQL across many. The study also carries its own
settings (`StudySettings`: objective, configuration space, seed, scheduler), so a
worker started on another machine needs only the storage's address and the
study's name. Random search draws configuration ``n`` of the study from one
seeded `RandomSearcher`, in trial order (`TrialOrderSampler`): which worker runs a
trial, and when, depends on timing; its configuration and its result do not.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from d2l_hpo.checks import integer
from d2l_hpo.schedulers import rung_levels
from d2l_hpo.searchers import RandomSearcher
from d2l_hpo.seeding import trial_seed
from d2l_hpo.simulation import Job, Simulation
from d2l_hpo.space import Categorical, IntUniform, space_from_json, space_to_json

#: The study's user attribute that holds its `StudySettings`.
SETTINGS_KEY = "d2l_hpo_settings"
#: Seconds between a worker's signs of life, and the silence after which its
#: trial counts as failed and is queued again (SQLite and PostgreSQL storages).
HEARTBEAT_INTERVAL, GRACE_PERIOD = 2, 8
#: How often a failed trial's configuration is queued again.
MAX_RETRY = 3
#: Trial states that count as finished: trained to the end, or stopped by ASHA.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@dataclass
class StudySettings:
    """What every worker of a study needs to run its trials the same way.

    `objective` is ``"module:function"``, called with a configuration, `max_epochs`,
    ``report=`` and `objective_kwargs`. `scheduler` is ``"fifo"`` (every trial to
    `max_epochs`, as random search) or ``"asha"`` (stop a trial at the rungs
    ``r_min * eta**k`` unless it is in the top ``1/eta``).
    """

    objective: str
    config_space: dict[str, Any]
    initial_config: dict[str, Any] | None = None
    seed: int = 0
    max_epochs: int = 10
    searcher: str = "random"
    scheduler: str = "fifo"
    r_min: int = 1
    eta: int = 2
    objective_kwargs: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise `ValueError` naming the setting that cannot work."""
        if self.searcher not in ("random", "tpe"):
            raise ValueError(
                f"searcher must be 'random' or 'tpe', not {self.searcher!r}"
            )
        if self.scheduler not in ("fifo", "asha"):
            raise ValueError(
                f"scheduler must be 'fifo' or 'asha', not {self.scheduler!r}"
            )
        integer(self.seed, "seed", minimum=0)
        integer(self.max_epochs, "max_epochs", minimum=1)
        integer(self.eta, "eta", minimum=2)
        integer(self.r_min, "r_min", minimum=1)
        if self.scheduler == "asha" and self.r_min >= self.max_epochs:
            raise ValueError(
                f"r_min = {self.r_min} leaves no rung below max_epochs = "
                f"{self.max_epochs}"
            )
        import_objective(self.objective)
        space_from_json(self.config_space)

    def rungs(self) -> list[int]:
        """The epochs at which ASHA may stop a trial, and `max_epochs`."""
        return rung_levels(self.r_min, self.max_epochs, self.eta)


def import_objective(path: str) -> Callable:
    """The function named ``"module:function"`` (a worker imports it by name)."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"objective must be 'module:function', got {path!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import objective {path!r}: {err}") from None


def optuna_distribution(dist: Any) -> BaseDistribution:
    """The Optuna distribution with the same range as one of ours (or scipy's)."""
    if isinstance(dist, Categorical):
        return CategoricalDistribution(list(dist.choices))
    if isinstance(dist, IntUniform):
        return IntDistribution(dist.low, dist.high, log=dist.log)
    name = dist.dist.name
    low, high = (float(b) for b in dist.support())
    if name in ("loguniform", "reciprocal"):
        return FloatDistribution(low, high, log=True)
    if name == "uniform":
        return FloatDistribution(low, high)
    if name == "randint":  # support() is low..high-1, both included
        return IntDistribution(int(low), int(high))
    raise ValueError(f"no Optuna distribution for scipy.stats.{name}")


def suggest_config(trial: optuna.Trial, config_space: Mapping[str, Any]) -> dict:
    """A configuration for `trial`: a value per hyperparameter, from its sampler."""
    config = {}
    for name, dist in config_space.items():
        target = optuna_distribution(dist)
        if isinstance(target, CategoricalDistribution):
            config[name] = trial.suggest_categorical(name, target.choices)
        elif isinstance(target, IntDistribution):
            config[name] = trial.suggest_int(
                name, target.low, target.high, log=target.log
            )
        else:
            config[name] = trial.suggest_float(
                name, target.low, target.high, log=target.log
            )
    return config


def config_id(trial: FrozenTrial | optuna.Trial) -> int:
    """Which configuration a trial runs: its number, or, for a trial queued again
    after a failure, the number of the trial that first ran it."""
    # A running `optuna.Trial` keeps its attributes in its frozen copy.
    attrs = getattr(trial, "_cached_frozen_trial", trial).system_attrs
    return int(attrs.get("failed_trial", trial.number))


class TrialOrderSampler(optuna.samplers.BaseSampler):
    """Random search in trial order: trial ``n`` gets configuration ``n`` of one
    seeded `RandomSearcher` (the initial configuration first), whichever process
    asks. The same seed gives the configurations of `LearningCurves`' table."""

    def __init__(
        self,
        config_space: Mapping[str, Any],
        initial_config: Mapping[str, Any] | None = None,
        seed: int = 0,
    ):
        self.searcher = RandomSearcher(config_space, initial_config, seed=seed)
        self.configs: list[dict] = []

    def configuration(self, number: int) -> dict:
        """The configuration of trial `number` (drawn in order, then kept)."""
        while len(self.configs) <= number:
            self.configs.append(self.searcher.sample_configuration())
        return self.configs[number]

    def infer_relative_search_space(self, study, trial) -> dict:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict:
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        value = self.configuration(trial.number)[param_name]
        if isinstance(param_distribution, FloatDistribution):
            return float(value)
        if isinstance(param_distribution, IntDistribution):
            return int(value)
        return value


def make_sampler(
    settings: StudySettings, process: int | None = None
) -> optuna.samplers.BaseSampler:
    """The searcher of `settings` as an Optuna sampler. TPE's own random draws
    get a seed per `process`, so that workers do not all start alike."""
    space = space_from_json(settings.config_space)
    if settings.searcher == "tpe":
        seed = (
            settings.seed if process is None else trial_seed(settings.seed, process)
        )
        return optuna.samplers.TPESampler(seed=seed)
    return TrialOrderSampler(space, settings.initial_config, seed=settings.seed)


class _WithoutRetried:
    """A study as a pruner sees it, without the trials that failed and were run
    again: their results at the rungs would count their configuration twice."""

    def __init__(self, study: optuna.Study):
        self._study = study

    def __getattr__(self, name: str):
        return getattr(self._study, name)

    def get_trials(self, deepcopy: bool = True, states=None) -> list[FrozenTrial]:
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        retried = {
            n for t in trials for n in t.system_attrs.get("retry_history", [])
        }
        return [t for t in trials if t.number not in retried]


class AshaPruner(optuna.pruners.SuccessiveHalvingPruner):
    """Optuna's ASHA (stopping variant), counting each configuration once at a
    rung, also when a trial that failed was run again."""

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return super().prune(_WithoutRetried(study), trial)


def make_pruner(settings: StudySettings) -> optuna.pruners.BasePruner:
    """ASHA's stopping variant for ``scheduler="asha"``; no stopping for FIFO."""
    if settings.scheduler == "fifo":
        return optuna.pruners.NopPruner()
    return AshaPruner(
        min_resource=settings.r_min,
        reduction_factor=settings.eta,
        min_early_stopping_rate=0,
    )


#: A trial's attributes that belong to its run, not to its configuration: a
#: trial queued again starts without them.
RUN_ATTRS = ("worker", "started_at", "report_times", "cut_by_budget", "error")


class RetryFailedTrial:
    """Queue a failed trial's configuration again, at most `max_retry` times: as
    Optuna's ``RetryHeartbeatStaleTrialCallback``, but the new trial does not
    inherit what the old one recorded while running (its rungs, its worker)."""

    def __init__(self, max_retry: int = 3):
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> int | None:
        """Add the new trial, waiting for a worker; return its number (or None)."""
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if len(history) > self.max_retry:
            return None
        system_attrs = {
            key: value
            for key, value in trial.system_attrs.items()
            if not key.startswith("completed_rung_")
        }
        system_attrs.update(
            failed_trial=trial.system_attrs.get("failed_trial", trial.number),
            retry_history=history,
        )
        user_attrs = {
            k: v for k, v in trial.user_attrs.items() if k not in RUN_ATTRS
        }
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=user_attrs,
                system_attrs=system_attrs,
            )
        )
        for queued in reversed(study.get_trials(deepcopy=False)):
            if queued.system_attrs.get("retry_history") == history:
                return queued.number
        return None


class FlockLock:
    """A journal file's lock that the kernel releases when its holder dies (a
    worker killed while writing), so that the other workers never wait for it.
    For one machine: ``flock`` is not reliable across NFS."""

    def __init__(self, path: str):
        self.path = f"{path}.flock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def open_storage(storage: str | Path | optuna.storages.BaseStorage):
    """A storage from its address: a URL (``sqlite:///FILE``,
    ``postgresql://USER@HOST/DB``) or the path of a journal file.

    Databases get heartbeats: the trial of a worker that has sent none for
    `GRACE_PERIOD` seconds is marked failed, the next time another worker starts a
    trial, and its configuration queued again (at most `MAX_RETRY` times). Leave
    the password out of a PostgreSQL URL: the driver reads it from the
    ``PGPASSWORD`` variable or a ``~/.pgpass`` file, so it never shows.
    """
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    address = str(storage)
    if "://" not in address:
        has_flock = importlib.util.find_spec("fcntl") is not None  # not on Windows
        lock = FlockLock(address) if has_flock else None
        return optuna.storages.JournalStorage(JournalFileBackend(address, lock))
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if address.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    return optuna.storages.RDBStorage(
        address,
        engine_kwargs=engine_kwargs,
        heartbeat_interval=HEARTBEAT_INTERVAL,
        grace_period=GRACE_PERIOD,
        heartbeat_stale_trial_callback=RetryFailedTrial(MAX_RETRY),
    )


def redact(address: str | Path) -> str:
    """A storage address fit to print: its password (after the user name, or in
    a ``password=`` parameter) becomes ``***``."""
    address = str(address)
    if "://" not in address:
        return address
    scheme, rest = address.split("://", 1)
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{host}"
    rest = re.sub(r"(?i)(password=)[^&]*", r"\1***", rest)
    return f"{scheme}://{rest}"


def create_study(
    storage,
    study_name: str,
    objective: str,
    config_space: Mapping[str, Any],
    *,
    initial_config: Mapping[str, Any] | None = None,
    seed: int = 0,
    max_epochs: int = 10,
    searcher: str = "random",
    scheduler: str = "fifo",
    r_min: int = 1,
    eta: int = 2,
    objective_kwargs: Mapping[str, Any] | None = None,
) -> optuna.Study:
    """A new study of `objective` in `storage`, with its settings stored in it.

    Fails if the storage already holds a study of that name with other settings
    (a name with the same settings is opened again: a search continues).
    """
    settings = StudySettings(
        objective=objective,
        config_space=space_to_json(config_space),
        initial_config=None if initial_config is None else dict(initial_config),
        seed=seed,
        max_epochs=max_epochs,
        searcher=searcher,
        scheduler=scheduler,
        r_min=r_min,
        eta=eta,
        objective_kwargs=dict(objective_kwargs or {}),
    )
    settings.check()
    storage = open_storage(storage)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="minimize",
        sampler=make_sampler(settings),
        pruner=make_pruner(settings),
        load_if_exists=True,
    )
    stored = study.user_attrs.get(SETTINGS_KEY)
    wanted = dataclasses.asdict(settings)
    if stored is None:
        study.set_user_attr(SETTINGS_KEY, wanted)
        if searcher == "tpe" and initial_config is not None:
            study.enqueue_trial(dict(initial_config))  # TPE's first trial
    elif stored != wanted:
        raise ValueError(
            f"the storage already holds a study {study_name!r} with other settings "
            f"{stored}; choose another name, or delete it with "
            "optuna.delete_study(...)"
        )
    return study


def load_study(
    storage, study_name: str, process: int | None = None
) -> tuple[optuna.Study, StudySettings]:
    """A study made by `create_study`, with its sampler and pruner, and settings
    (`process` seeds TPE's random draws per worker)."""
    shown, storage = redact(storage), open_storage(storage)
    try:
        bare = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise KeyError(
            f"no study {study_name!r} in {shown}: make it with create_study"
        ) from None
    if SETTINGS_KEY not in bare.user_attrs:
        raise ValueError(
            f"study {study_name!r} was not made by d2l_hpo.create_study: it has no "
            "settings for its workers"
        )
    settings = StudySettings(**bare.user_attrs[SETTINGS_KEY])
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=make_sampler(settings, process),
        pruner=make_pruner(settings),
    )
    return study, settings


def study_start(study: optuna.Study) -> float:
    """When the study's clock starts: the launch time its workers were given, or
    else the first trial's start (seconds since the epoch)."""
    if "started_at" in study.user_attrs:
        return float(study.user_attrs["started_at"])
    starts = [
        t.datetime_start.timestamp() for t in study.trials if t.datetime_start
    ]
    return min(starts) if starts else math.nan


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, config id, worker, state (complete, pruned,
    failed, running, or cut by the budget), hyperparameters, epochs trained, last
    validation error, start and end (seconds from the study's start); a trial
    running or cut has no end."""
    origin = study_start(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.WAITING:
            continue
        times = trial.user_attrs.get("report_times", [])
        end = trial.datetime_complete
        rows.append(
            {
                "trial": trial.number,
                "config_id": config_id(trial),
                "worker": trial.user_attrs.get("worker", ""),
                "state": (
                    "cut"
                    if trial.user_attrs.get("cut_by_budget")
                    else trial.state.name.lower()
                ),
                **trial.params,
                "epochs": len(trial.intermediate_values),
                "validation_error": (
                    trial.intermediate_values[max(trial.intermediate_values)]
                    if trial.intermediate_values
                    else math.nan
                ),
                "start": trial.user_attrs.get(
                    "started_at", trial.datetime_start.timestamp()
                )
                - origin,
                "end": (
                    end.timestamp() - origin
                    if end is not None and trial.state in FINISHED
                    else math.nan
                ),
                "last_report": times[-1] - origin if times else math.nan,
            }
        )
    return pd.DataFrame(rows)


def reports_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per report (a trial after one epoch): trial, worker, epoch,
    validation error and time (seconds from the study's start)."""
    origin = study_start(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        times = trial.user_attrs.get("report_times", [])
        for (epoch, error), when in zip(
            sorted(trial.intermediate_values.items()), times, strict=False
        ):
            rows.append(
                {
                    "trial": trial.number,
                    "worker": trial.user_attrs.get("worker", ""),
                    "epoch": epoch,
                    "validation_error": error,
                    "time": when - origin,
                }
            )
    return pd.DataFrame(
        rows, columns=["trial", "worker", "epoch", "validation_error", "time"]
    )


def finished_by(frame: pd.DataFrame, seconds: float) -> int:
    """How many trials of a `trials_frame` had finished `seconds` into the study."""
    return int((frame["end"] <= seconds).sum())


def incumbent_trajectory(reports: pd.DataFrame) -> pd.DataFrame:
    """The best validation error reported so far, at each report's time."""
    ordered = reports.sort_values("time")
    return pd.DataFrame(
        {
            "time": ordered["time"].to_numpy(),
            "best": np.minimum.accumulate(ordered["validation_error"].to_numpy()),
        }
    )


def timeline(study: optuna.Study) -> Simulation:
    """A real run as a `Simulation` of its jobs (a trial per job, on its worker,
    from its start to its last report), for `plotting.plot_timeline`."""
    frame = trials_frame(study)
    names = sorted(set(frame["worker"]), key=lambda w: (len(w), w))
    jobs = [
        Job(
            worker=names.index(row.worker),
            trial=row.trial,
            config_id=row.config_id,
            start=row.start,
            end=row.end if not math.isnan(row.end) else row.last_report,
            start_epoch=0,
            end_epoch=row.epochs,
            stopped=row.state == "pruned",
            error=row.validation_error,
        )
        for row in frame.itertuples()
        if row.epochs > 0
    ]
    settings = StudySettings(**study.user_attrs[SETTINGS_KEY])
    return Simulation(jobs, max(len(names), 1), final_epoch=settings.max_epochs)
