"""Worker processes on this machine: start them, watch them, recover their trials.

`LocalWorkers` is this book's version of the chapter's ``Tuner`` with its local
back-end: it starts `num_workers` processes of ``python -m d2l_hpo.worker`` on
one study, each with one torch thread, gives them a wall-clock budget (the
chapter's ``StoppingCriterion(max_wallclock_time=...)``), and prints a line as
each trial starts and ends. A worker that dies (killed, out of memory) loses
no finished trial: its running trial is marked failed, its configuration queued
again, and a new worker takes its place.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from d2l_hpo.studies import (
    MAX_RETRY,
    RetryFailedTrial,
    load_study,
    open_storage,
    redact,
    trials_frame,
)
from d2l_hpo.tuner import format_config, wrap_pairs

#: Seconds between looks at the study, and how long after the budget a worker
#: may take to finish its epoch before it is killed.
POLL_SECONDS, GRACE_SECONDS = 0.5, 120.0
#: How often a worker that was killed (or lost its storage) is started again.
MAX_RESTARTS = 3
#: Exit statuses after which a new worker would fail the same way: a bad study
#: (2), an objective failing every trial (4), or a crash (1): not restarted.
NO_RESTART = (1, 2, 4)


def requeue(study: optuna.Study, number: int) -> int | None:
    """Mark running trial `number` failed and queue its configuration again (as
    Optuna's heartbeat does for databases); return the new trial's number."""
    try:
        study.tell(number, state=TrialState.FAIL)
    except (ValueError, RuntimeError):
        return None  # it finished, or was recovered already
    failed = study.get_trials(deepcopy=False)[number]
    return RetryFailedTrial(MAX_RETRY)(study, failed)


def requeue_running(study: optuna.Study) -> list[int]:
    """After a crash with no worker left (a file storage has no heartbeat): queue
    the configurations of the trials still marked running; return their numbers."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in running:
        requeue(study, trial.number)
    return [trial.number for trial in running]


class LocalWorkers:
    """`num_workers` worker processes on one study, for `max_wallclock_time` s."""

    def __init__(
        self,
        storage,
        study_name: str,
        num_workers: int,
        max_wallclock_time: float,
        *,
        log_dir: str | os.PathLike | None = None,
        progress: bool = True,
        restart: bool = True,
    ):
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers!r}")
        if not max_wallclock_time > 0:
            raise ValueError(
                "max_wallclock_time must be > 0 seconds, "
                f"got {max_wallclock_time!r}"
            )
        self.address, self.study_name = storage, study_name
        self.study, self.settings = load_study(open_storage(storage), study_name)
        self.num_workers, self.budget = num_workers, float(max_wallclock_time)
        if log_dir is None:
            local = "://" not in str(storage)
            log_dir = f"{storage}.logs" if local else tempfile.mkdtemp()
        self.log_dir = Path(log_dir)
        self.progress, self.restart = progress, restart
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_at = math.nan
        self.deadline = math.inf
        self._shown: dict[int, TrialState] = {}
        self._dead: set[str] = set()
        self._restarts: dict[str, int] = {}

    def names(self) -> list[str]:
        return [f"worker {i}" for i in range(self.num_workers)]

    def start(self) -> None:
        """Start the clock and the workers."""
        self.started_at = time.time()
        self.deadline = self.started_at + self.budget
        self.study.set_user_attr("started_at", self.started_at)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.names():
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        log = open(self._log(name), "a")
        self.processes[name] = subprocess.Popen(  # own session: no Ctrl-C
            [
                sys.executable,
                "-m",
                "d2l_hpo.worker",
                "--storage",
                str(self.address),
                "--study",
                self.study_name,
                "--name",
                name,
                "--deadline",
                repr(self.deadline),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()

    def kill(self, worker: int, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to worker `worker` (to see what a crash does)."""
        self.processes[f"worker {worker}"].send_signal(sig)

    def clock(self) -> float:
        return time.time() - self.started_at

    def say(self, text: str) -> None:
        if self.progress:
            lines = wrap_pairs(f"{self.clock():6.1f} s  {text}")
            print("\n".join(lines[:1] + ["    " + line for line in lines[1:]]))

    def watch(self, seconds: float | None = None) -> None:
        """Print the trials' progress until the workers are done (or `seconds`).

        Interrupted (Jupyter's stop button, Ctrl-C), it stops the workers first:
        each ends at its next epoch, its trial cut, as by the budget.
        """
        try:
            self._watch(seconds)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = GRACE_SECONDS) -> None:
        """Ask every worker to stop at its next epoch's end, and wait for them."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        end = time.time() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                process.kill()

    def _watch(self, seconds: float | None) -> None:
        until = math.inf if seconds is None else time.time() + seconds
        while time.time() < until:
            self._report_trials()
            alive = self._check_workers()
            if not alive:
                break
            if time.time() > self.deadline + GRACE_SECONDS:
                for name, process in self.processes.items():
                    if process.poll() is None:
                        self.say(f"{name} did not stop; killing it")
                        process.kill()
            time.sleep(POLL_SECONDS)
        self._report_trials()

    def run(self) -> pd.DataFrame:
        """Start, watch until the budget is spent, and return `trials_frame`."""
        self.start()
        self.watch()
        return self.trials()

    def trials(self) -> pd.DataFrame:
        return trials_frame(self.study)

    def _report_trials(self) -> None:
        for trial in self.study.get_trials(deepcopy=False):
            state = trial.state
            if (
                state == TrialState.WAITING
                or self._shown.get(trial.number) == state
            ):
                continue
            worker = trial.user_attrs.get("worker", "a worker")
            if trial.number not in self._shown:
                config = format_config(trial.params)
                self.say(f"{worker} starts trial {trial.number}: {config}")
            if state != TrialState.RUNNING:
                self.say(self._ending(trial, worker))
            self._shown[trial.number] = state

    @staticmethod
    def _ending(trial, worker: str) -> str:
        epochs = len(trial.intermediate_values)
        last = trial.intermediate_values.get(
            max(trial.intermediate_values, default=0)
        )
        error = "" if last is None else f": validation error {last:.4f}"
        after = f"after {epochs} epoch{'s' * (epochs != 1)}"
        if trial.state == TrialState.COMPLETE:
            return f"{worker} ends trial {trial.number} {after}{error}"
        if trial.state == TrialState.PRUNED:
            return f"{worker} stops trial {trial.number} {after} (ASHA){error}"
        if trial.user_attrs.get("cut_by_budget"):
            return f"budget spent: trial {trial.number} cut {after}{error}"
        return f"trial {trial.number} failed {after}"

    def _check_workers(self) -> bool:
        alive = False
        for name, process in list(self.processes.items()):
            status = process.poll()
            if status is None:
                alive = True
                continue
            if status == 0 or name in self._dead:
                continue
            self._dead.add(name)
            cause = (
                f"killed by {signal.Signals(-status).name}"
                if status < 0
                else f"exit status {status}"
            )
            self.say(f"{name} died ({cause}); its output: {self._log(name).name}")
            self._report_trials()
            for trial in self.study.get_trials(
                deepcopy=False, states=(TrialState.RUNNING,)
            ):
                if trial.user_attrs.get("worker") != name:
                    continue
                again = requeue(self.study, trial.number)
                queued = "" if again is None else f", queued again as trial {again}"
                self.say(f"trial {trial.number} failed with its worker{queued}")
                self._shown[trial.number] = TrialState.FAIL
            restarts = self._restarts.get(name, 0)
            if status in NO_RESTART:
                self.say(f"{name} is not started again: {self._last_line(name)}")
            elif self.restart and restarts < MAX_RESTARTS and not self._late():
                self._restarts[name] = restarts + 1
                self._spawn(name)
                self._dead.discard(name)
                self.say(f"{name} started again")
                alive = True
        return alive

    def _late(self) -> bool:
        """Too late to start a worker: it would not finish one epoch in time."""
        return time.time() > self.deadline - 10

    def _last_line(self, name: str) -> str:
        """The last line a worker wrote (its reason to exit, without secrets)."""
        try:
            lines = self._log(name).read_text().strip().splitlines()
        except OSError:
            return "no output"
        return redact(lines[-1]) if lines else "no output"

    def _log(self, name: str) -> Path:
        """Where a worker's output goes (in `log_dir`)."""
        return self.log_dir / f"{name.replace(' ', '-')}.log"
