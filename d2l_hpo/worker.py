"""A worker: runs the trials of one study until its budget is spent.

    python -m d2l_hpo.worker --storage URL --study NAME [--wallclock SECONDS]

Start as many as there are cores or GPUs, on one machine or many: they share the
study through its storage (`d2l_hpo.studies.open_storage`). Each trial reports its
validation error after every epoch; under ASHA the pruner may stop it there. A
worker whose storage goes away waits for it (`--reconnect-timeout`), then exits
with status 3 and a message; started again, it continues the same study.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator

import optuna
from optuna.trial import TrialState

from d2l_hpo.seeding import seed_everything, trial_seed
from d2l_hpo.space import space_from_json
from d2l_hpo.studies import (
    FINISHED,
    StudySettings,
    config_id,
    import_objective,
    load_study,
    open_storage,
    redact,
    suggest_config,
)

#: Exit statuses: done, bad arguments or study, storage unreachable too long,
#: and `MAX_FAILURES` trials in a row failed (the objective itself is broken).
DONE, BAD_STUDY, NO_STORAGE, FAILING = 0, 2, 3, 4
MAX_FAILURES = 5


class Deadline:
    """When the worker stops: no trial starts after `at` (seconds since the
    epoch), and a running one is cut at its next epoch's end. SIGTERM moves it
    to now, so that a worker stops cleanly, its storage never left mid-write."""

    def __init__(self, at: float = math.inf):
        self.at = at

    def passed(self) -> bool:
        return time.time() >= self.at


class BudgetSpent(Exception):
    """Raised at an epoch's end once the wall-clock budget is spent: the trial is
    cut there (recorded as failed, with ``cut_by_budget``)."""


def make_objective(
    settings: StudySettings, worker: str, deadline: Deadline | None = None
) -> Callable[[optuna.Trial], float]:
    """The study's objective as Optuna calls it: draw the trial's configuration,
    seed it, train, and report every epoch (where ASHA may stop it)."""
    function = import_objective(settings.objective)
    space = space_from_json(settings.config_space)
    asha = settings.scheduler == "asha"
    deadline = deadline or Deadline()

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("started_at", time.time())
        config = suggest_config(trial, space)
        seed_everything(trial_seed(settings.seed, config_id(trial)))
        times: list[float] = []

        def report(epoch: int, validation_error: float, **_) -> None:
            trial.report(float(validation_error), epoch)
            times.append(time.time())
            trial.set_user_attr("report_times", times)
            if asha and epoch < settings.max_epochs and trial.should_prune():
                raise optuna.TrialPruned(f"stopped by ASHA after epoch {epoch}")
            if deadline.passed() and epoch < settings.max_epochs:
                trial.set_user_attr("cut_by_budget", True)
                raise BudgetSpent(f"wall-clock budget spent after epoch {epoch}")

        try:
            error = function(
                **config,
                max_epochs=settings.max_epochs,
                report=report,
                **settings.objective_kwargs,
            )
        except Exception as err:  # what the worker's log will name
            if not isinstance(err, optuna.TrialPruned | BudgetSpent):
                trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            raise
        return float(error)

    return objective


def storage_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the storage cannot be reached (for now)."""
    import sqlalchemy.exc

    return (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


def chain(err: BaseException | None) -> Iterator[BaseException]:
    """`err` and the exceptions it was raised from or while handling."""
    while err is not None:
        yield err
        err = err.__cause__ or err.__context__


def storage_error(err: BaseException | None) -> BaseException | None:
    """The storage error in `err`'s chain, if any. (Optuna can lose it: when the
    database goes away mid-trial, recording the failure fails too.)"""
    return next((e for e in chain(err) if isinstance(e, storage_errors())), None)


def reachable(storage) -> bool:
    """Whether the storage answers now."""
    try:
        open_storage(storage).get_all_studies()
    except storage_errors():
        return False
    return True


def taken_over(err: BaseException) -> bool:
    """Whether `err` says the trial is no longer this worker's: another worker
    failed it (and queued it again) after this one's heartbeat had stopped."""
    return any(
        isinstance(e, optuna.exceptions.UpdateFinishedTrialError)
        or (isinstance(e, ValueError) and "Cannot tell" in str(e))
        for e in chain(err)
    )


def run_worker(
    storage,
    study_name: str,
    *,
    name: str | None = None,
    deadline: Deadline | float = math.inf,
    max_trials: int | None = None,
    reconnect_timeout: float = 60.0,
    log: Callable[[str], None] = print,
) -> int:
    """Run trials of the study until `deadline` (seconds since the epoch) or until
    it has `max_trials` finished trials; return the exit status.

    If the storage cannot be reached, the worker retries every 2 seconds; after
    `reconnect_timeout` seconds without a trial recorded, it gives up.
    """
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    if not isinstance(deadline, Deadline):
        deadline = Deadline(deadline)
    shown = redact(storage)
    trouble_since: list[float] = []  # first storage error since the last trial
    failures: list[bool] = []

    def enough(study: optuna.Study, trial) -> None:
        trouble_since.clear()  # a trial was recorded: the storage works
        cut = trial.user_attrs.get("cut_by_budget", False)
        failing = trial.state == TrialState.FAIL and not cut
        failures.append(failing)
        if failing:
            error = trial.user_attrs.get("error", "")
            log(f"{name}: trial {trial.number} failed: {error}")
        done = study.get_trials(deepcopy=False, states=FINISHED)
        if failures[-MAX_FAILURES:] == [True] * MAX_FAILURES or deadline.passed():
            study.stop()
        if max_trials is not None and len(done) >= max_trials:
            study.stop()

    while not deadline.passed():
        try:
            study, settings = load_study(storage, study_name, process=os.getpid())
            if max_trials is not None:
                finished = study.get_trials(deepcopy=False, states=FINISHED)
                if len(finished) >= max_trials:
                    break
            objective = make_objective(settings, name, deadline)
            study.optimize(objective, callbacks=[enough], catch=(Exception,))
            if failures[-MAX_FAILURES:] == [True] * MAX_FAILURES:
                log(f"{name}: {MAX_FAILURES} trials in a row failed; stopping")
                return FAILING
            break
        except KeyError as err:
            if not reachable(storage):
                continue  # the study is there, the storage is not: retry
            log(f"{name}: {err.args[0]}")
            return BAD_STUDY
        except Exception as err:
            cause = storage_error(err)
            if cause is None and taken_over(err):
                log(f"{name}: its trial was taken over after a missed heartbeat")
                continue
            if cause is None and reachable(storage):
                raise
            err = cause or err
            now = time.time()
            trouble_since[:] = trouble_since or [now]
            waited = now - trouble_since[0]
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            if waited >= reconnect_timeout:
                log(
                    f"{name}: storage {shown} unreachable for {waited:.0f} s, "
                    f"giving up ({type(err).__name__}: {reason}). Start the "
                    "worker again once it is back: finished trials are kept."
                )
                return NO_STORAGE
            log(f"{name}: storage {shown} unreachable, retrying ({reason})")
            time.sleep(min(2.0, reconnect_timeout))
    log(f"{name}: done")
    return DONE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m d2l_hpo.worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--storage",
        required=True,
        help="postgresql://USER@HOST/DB, sqlite:///FILE, or a journal file's path",
    )
    parser.add_argument("--study", required=True, help="the study's name")
    parser.add_argument("--name", help="this worker's name (default: host:pid)")
    parser.add_argument(
        "--wallclock", type=float, help="stop after this many seconds"
    )
    parser.add_argument(
        "--deadline", type=float, help="stop at this time (seconds since the epoch)"
    )
    parser.add_argument(
        "--max-trials", type=int, help="stop once the study has this many"
    )
    parser.add_argument("--reconnect-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    deadline = Deadline(math.inf if args.deadline is None else args.deadline)
    if args.wallclock is not None:
        deadline.at = min(deadline.at, time.time() + args.wallclock)
    if "://" in args.storage and redact(args.storage) != args.storage:
        print(
            "warning: the storage URL holds a password, which other users of this "
            "machine can read in the process list; set PGPASSWORD or use "
            "~/.pgpass instead",
            file=sys.stderr,
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    # SIGTERM (as from the launcher) stops at the next epoch's end, like the budget.
    signal.signal(signal.SIGTERM, lambda *_: setattr(deadline, "at", 0.0))
    return run_worker(
        args.storage,
        args.study,
        name=args.name,
        deadline=deadline,
        max_trials=args.max_trials,
        reconnect_timeout=args.reconnect_timeout,
        log=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    sys.exit(main())
