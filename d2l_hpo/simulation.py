"""Parallel workers simulated on the recorded learning curves (19.3 and 19.5).

Each function below schedules trials on `num_workers` simulated workers and
replays, for every epoch a trial trains, the seconds the table recorded for that
epoch. What comes back is a `Simulation`: a list of `Job` (who trained which
trial, from when to when, from which epoch to which). There are no threads and
no clocks, only sums of the table's numbers, so every run on every machine gives
the same answer to the second: how long synchronous scheduling waits, how much
successive halving saves, how the speed-up grows with the number of workers.

Ties are broken the same way everywhere: the worker with the lower index first,
the trial with the lower number first (the one started, or sampled, earlier).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from d2l_hpo.checks import integer, positive_float
from d2l_hpo.curves import LearningCurves
from d2l_hpo.schedulers import rung_levels


@dataclass(frozen=True)
class Job:
    """One stretch of work on a worker: a trial trained from epoch `start_epoch`
    (exclusive) to `end_epoch`, from `start` to `end` simulated seconds."""

    worker: int  # 0-based
    trial: int  # trial number, 0-based, in the order trials were sampled
    config_id: int  # row of the table
    start: float  # simulated seconds
    end: float
    start_epoch: int  # epochs trained before this job (> 0: from a checkpoint)
    end_epoch: int  # epochs trained at the end of the job
    rung: int | None = None  # SH/ASHA: index of the rung this job ends at
    promoted: bool = False  # SH/ASHA: this job's result was promoted later
    stopped: bool = False  # ASHA (stopping): the trial was stopped at end_epoch
    error: float = math.nan  # the table's validation error at end_epoch

    @property
    def seconds(self) -> float:
        """How long the job kept its worker busy."""
        return self.end - self.start

    @property
    def epochs(self) -> int:
        """How many epochs the job trained."""
        return self.end_epoch - self.start_epoch


@dataclass
class Simulation:
    """The jobs of a simulated run on `num_workers` workers, and what they add up
    to. A trial is finished once trained for `final_epoch` epochs or stopped."""

    jobs: list[Job]
    num_workers: int
    final_epoch: int = 10
    rung_levels: tuple[int, ...] = field(default=())

    @property
    def makespan(self) -> float:
        """When the last job ended: the wall-clock time of the whole run."""
        return max((job.end for job in self.jobs), default=0.0)

    @property
    def busy_seconds(self) -> float:
        """Seconds the workers spent training, summed over the workers."""
        return sum(job.seconds for job in self.jobs)

    @property
    def epochs_trained(self) -> int:
        """Epochs trained over all jobs (resumed epochs are not trained again)."""
        return sum(job.epochs for job in self.jobs)

    def idle_seconds(self, until: float | None = None) -> float:
        """Seconds the workers sat idle up to `until` (default: the makespan).

        Summed gap by gap, so that a worker going straight on to its next job
        adds exactly 0 (a difference of totals would leave rounding errors).
        """
        until = self.makespan if until is None else float(until)
        idle = 0.0
        for jobs in self.by_worker():
            free_since = 0.0
            for job in jobs:
                if job.start < until:
                    idle += max(0.0, job.start - free_since)
                    free_since = max(free_since, job.end)
            idle += max(0.0, until - free_since)
        return idle

    def by_worker(self) -> list[list[Job]]:
        """Each worker's jobs, in the order they started."""
        ordered = sorted(self.jobs, key=lambda job: job.start)
        return [
            [job for job in ordered if job.worker == worker]
            for worker in range(self.num_workers)
        ]

    def waits(self) -> list[float]:
        """Every wait of a worker between the end of a job and the start of its
        next one (not before its first job, nor after its last)."""
        return [
            later.start - earlier.end
            for jobs in self.by_worker()
            for earlier, later in itertools.pairwise(jobs)
        ]

    def finish_times(self) -> list[float]:
        """When each finished trial finished (trained fully, or stopped), sorted."""
        return sorted(
            job.end
            for job in self.jobs
            if job.end_epoch == self.final_epoch or job.stopped
        )

    def trials_finished(self, until: float | None = None) -> int:
        """How many trials finished (trained fully, or stopped) by `until`."""
        until = self.makespan if until is None else float(until)
        return sum(end <= until for end in self.finish_times())

    def time_to_finish(self, n: int) -> float:
        """When the `n`-th trial finished: the time to get `n` results."""
        times = self.finish_times()
        if not 1 <= n <= len(times):
            raise ValueError(
                f"n must be between 1 and {len(times)}, the trials that finished, "
                f"got {n!r}"
            )
        return times[n - 1]

    def incumbent_trajectory(self) -> list[tuple[float, float]]:
        """(time, best error so far) at every job's end, in the order of time
        (equal times: the lower worker index first, as the events were handled)."""
        trajectory, best = [], math.inf
        for job in sorted(self.jobs, key=lambda job: (job.end, job.worker)):
            if not math.isnan(job.error):
                best = min(best, job.error)
                trajectory.append((job.end, best))
        return trajectory

    def incumbent_at(self, times) -> np.ndarray:
        """The lowest error found by each of `times` (NaN before any), as
        `SearchResults.incumbent_at`: so `plotting.plot_anytime` draws both."""
        trajectory = self.incumbent_trajectory()
        ends = np.array([end for end, _ in trajectory])
        best = np.array([math.nan] + [error for _, error in trajectory])
        return best[np.searchsorted(ends, times, side="right")]

    def best_error(self, until: float | None = None) -> float:
        """The lowest error of the jobs ended by `until` (NaN if none has)."""
        errors = [
            job.error
            for job in self.jobs
            if (until is None or job.end <= until) and not math.isnan(job.error)
        ]
        return min(errors, default=math.nan)

    def to_frame(self) -> pd.DataFrame:
        """A row per job, in the order the jobs started: for printing."""
        rows = [dataclasses.asdict(job) for job in self.jobs]
        columns = [f.name for f in dataclasses.fields(Job)]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({"rung": "Int64"})  # integers, <NA> where none


class _Table:
    """The table's seconds and errors as Python floats, and the checks of ids."""

    def __init__(self, curves: LearningCurves, overhead: float):
        self.seconds = {
            int(i): [float(s) for s in row] for i, row in curves.seconds.iterrows()
        }
        self.errors = {
            int(i): [float(e) for e in row] for i, row in curves.errors.iterrows()
        }
        self.max_epochs = curves.max_epochs
        number = isinstance(overhead, numbers.Real) and not isinstance(
            overhead, bool
        )
        if not number or not 0 <= overhead < math.inf:
            raise ValueError(f"overhead must be a number >= 0, got {overhead!r}")
        self.overhead = float(overhead)

    def ids(self, config_ids: Iterable[int]) -> list[int]:
        """`config_ids` as a list, or `ValueError` naming one not in the table."""
        ids = list(config_ids)
        for config_id in ids:
            if config_id not in self.seconds:
                raise ValueError(f"config_id {config_id!r} is not in the table")
        return [int(config_id) for config_id in ids]

    def epochs(self, value: int, name: str) -> int:
        """`value` as a number of epochs the table holds, or `ValueError`."""
        value = integer(value, name, minimum=1)
        if value > self.max_epochs:
            raise ValueError(
                f"{name} is {value}, but the table has {self.max_epochs} epochs"
            )
        return value

    def duration(
        self, config_id: int, start_epoch: int, end_epoch: int, setup: bool = True
    ) -> float:
        """Seconds to train epochs start_epoch + 1 to end_epoch, plus overhead."""
        epochs = sum(self.seconds[config_id][start_epoch:end_epoch])
        return (self.overhead if setup else 0.0) + epochs

    def error(self, config_id: int, epoch: int) -> float:
        """The recorded error after `epoch` epochs (NaN before the first)."""
        return self.errors[config_id][epoch - 1] if epoch >= 1 else math.nan

    def job(
        self,
        worker: int,
        trial: int,
        config_id: int,
        start: float,
        start_epoch: int,
        end_epoch: int,
        rung: int | None = None,
        setup: bool = True,
    ) -> Job:
        """The `Job` training `config_id` from `start`, its end and error filled."""
        end = start + self.duration(config_id, start_epoch, end_epoch, setup)
        return Job(
            worker,
            trial,
            config_id,
            start,
            end,
            start_epoch,
            end_epoch,
            rung,
            error=self.error(config_id, end_epoch),
        )

    def cut(self, job: Job, budget: float, setup: bool) -> Job:
        """`job` stopped at `budget`, with the epochs it had finished by then."""
        end_epoch = job.start_epoch
        while end_epoch < job.end_epoch:
            seconds = self.duration(
                job.config_id, job.start_epoch, end_epoch + 1, setup
            )
            if job.start + seconds > budget:
                break
            end_epoch += 1
        return dataclasses.replace(
            job,
            end=budget,
            end_epoch=end_epoch,
            rung=None,
            error=self.error(job.config_id, end_epoch),
        )


def _workers(num_workers: int) -> int:
    return integer(num_workers, "num_workers", minimum=1)


def _budget(budget: float | None) -> float:
    return math.inf if budget is None else positive_float(budget, "budget")


def sequential(
    curves: LearningCurves,
    config_ids: Sequence[int],
    max_epochs: int = 10,
    overhead: float = 0.0,
) -> Simulation:
    """One worker trains the trials one after another (Fig. 19.3.1, top)."""
    table = _Table(curves, overhead)
    max_epochs = table.epochs(max_epochs, "max_epochs")
    jobs, now = [], 0.0
    for trial, config_id in enumerate(table.ids(config_ids)):
        jobs.append(table.job(0, trial, config_id, now, 0, max_epochs))
        now = jobs[-1].end
    return Simulation(jobs, 1, max_epochs)


def synchronous(
    curves: LearningCurves,
    config_ids: Sequence[int],
    num_workers: int,
    max_epochs: int = 10,
    overhead: float = 0.0,
) -> Simulation:
    """Batches of `num_workers` trials; a batch starts when the last one is done,
    so the workers that finish early wait (Fig. 19.3.1, middle)."""
    table = _Table(curves, overhead)
    max_epochs = table.epochs(max_epochs, "max_epochs")
    num_workers = _workers(num_workers)
    ids = table.ids(config_ids)
    jobs, now = [], 0.0
    for first in range(0, len(ids), num_workers):
        batch = [
            table.job(worker, trial, ids[trial], now, 0, max_epochs)
            for worker, trial in enumerate(range(first, first + num_workers))
            if trial < len(ids)
        ]
        jobs += batch
        now = max(job.end for job in batch)
    return Simulation(jobs, num_workers, max_epochs)


def asynchronous(
    curves: LearningCurves,
    config_ids: Sequence[int],
    num_workers: int,
    max_epochs: int = 10,
    budget: float | None = None,
    overhead: float = 0.0,
) -> Simulation:
    """Each worker that frees up starts the next trial at once (Fig. 19.3.1,
    bottom). With `budget` (seconds), no trial starts at or after it."""
    table = _Table(curves, overhead)
    max_epochs = table.epochs(max_epochs, "max_epochs")
    num_workers, budget = _workers(num_workers), _budget(budget)
    free = [(0.0, worker) for worker in range(num_workers)]  # (free at, worker)
    jobs = []
    for trial, config_id in enumerate(table.ids(config_ids)):
        now, worker = heapq.heappop(free)  # the earliest, then the lowest index
        if now >= budget:
            break
        jobs.append(table.job(worker, trial, config_id, now, 0, max_epochs))
        heapq.heappush(free, (jobs[-1].end, worker))
    return Simulation(jobs, num_workers, max_epochs)


def _rungs(table: _Table, r_min: int, r_max: int, eta: int) -> list[int]:
    r_min = integer(r_min, "r_min", minimum=1)
    r_max = table.epochs(r_max, "r_max")
    if r_max <= r_min:
        raise ValueError(f"r_max must be > r_min = {r_min}, got {r_max}")
    return rung_levels(r_min, r_max, integer(eta, "eta", minimum=2))


def _ranked(results: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """(error, trial) pairs, best first; equal errors: the earlier trial first."""
    return sorted(results)


def synchronous_successive_halving(
    curves: LearningCurves,
    config_ids: Sequence[int],
    num_workers: int,
    r_min: int = 2,
    r_max: int = 10,
    eta: int = 2,
    resume: bool = True,
    overhead: float = 0.0,
) -> Simulation:
    """Successive halving, rung by rung, on parallel workers (Fig. 19.5.1).

    A round takes ``eta**K`` configurations (K + 1 rungs, as the chapter's
    `SuccessiveHalvingScheduler` with ``prefact=1``) and trains them for `r_min`
    epochs; the best ``1/eta`` go on to the next rung level, up to `r_max`. A
    rung's jobs go to the workers as they free up, best first; the next rung
    starts only once every job of this one is done (the synchronisation that
    costs idle time). Rounds follow one another. With `resume`, a promoted trial
    continues from its checkpoint, training only the epochs it lacks.
    """
    table = _Table(curves, overhead)
    levels = _rungs(table, r_min, r_max, eta)
    num_workers, K = _workers(num_workers), len(levels) - 1
    ids, n0 = table.ids(config_ids), eta**K
    if not ids or len(ids) % n0:
        raise ValueError(
            f"synchronous successive halving runs rounds of eta**K = {n0} "
            f"configurations: give a multiple of {n0}, not {len(ids)}"
        )
    jobs: list[Job] = []
    promoted: set[int] = set()  # positions in jobs
    now = 0.0
    for first in range(0, len(ids), n0):
        rung = list(range(first, first + n0))  # trials, in the order they run
        for i, level in enumerate(levels):
            free = [(now, worker) for worker in range(num_workers)]
            done = []  # (error, trial, position in jobs)
            for trial in rung:
                start, worker = heapq.heappop(free)
                start_epoch = levels[i - 1] if resume and i > 0 else 0
                job = table.job(
                    worker, trial, ids[trial], start, start_epoch, level, rung=i
                )
                done.append((job.error, trial, len(jobs)))
                jobs.append(job)
                heapq.heappush(free, (job.end, worker))
            now = max(end for end, _ in free)  # the barrier
            if i < K:
                best = _ranked(done)[: eta ** (K - i - 1)]
                promoted.update(position for _, _, position in best)
                rung = [trial for _, trial, _ in best]
    jobs = [
        dataclasses.replace(job, promoted=True) if i in promoted else job
        for i, job in enumerate(jobs)
    ]
    jobs.sort(key=lambda job: (job.start, job.worker))
    return Simulation(jobs, num_workers, levels[-1], tuple(levels))


def asha(
    curves: LearningCurves,
    config_ids: Sequence[int],
    num_workers: int,
    r_min: int = 2,
    r_max: int = 10,
    eta: int = 2,
    budget: float | None = None,
    variant: str = "promotion",
    resume: bool = True,
    overhead: float = 0.0,
) -> Simulation:
    """Asynchronous successive halving (ASHA): no worker waits for a rung.

    ``variant="promotion"`` (Li et al., 2018; Fig. 19.5.2): a worker that frees up
    promotes, from the highest rung down, the best trial among the top ``1/eta``
    of the results that rung has so far and that was not promoted yet; if there is
    none, it starts the next trial for `r_min` epochs. ``variant="stopping"``
    (Optuna's ``SuccessiveHalvingPruner``): every trial trains towards `r_max` and
    is stopped at a rung level unless it is among the best ``1/eta`` there so far.
    No job starts at or after `budget` seconds.
    """
    if variant == "promotion":
        return _asha_promotion(
            curves,
            config_ids,
            num_workers,
            r_min,
            r_max,
            eta,
            budget,
            resume,
            overhead,
        )
    if variant == "stopping":
        return _asha_stopping(
            curves, config_ids, num_workers, r_min, r_max, eta, budget, overhead
        )
    raise ValueError(f"variant must be 'promotion' or 'stopping', got {variant!r}")


def _asha_promotion(
    curves, config_ids, num_workers, r_min, r_max, eta, budget, resume, overhead
) -> Simulation:
    """ASHA as Li et al. (2018) wrote it: promote when a worker asks for work.

    Events are handled in the order of simulated time (equal times: the lower
    worker index first). A worker that has finished a job records its result,
    then chooses its next job; workers left without work (no new trial left,
    nothing promotable) ask again whenever a result comes in.
    """
    table = _Table(curves, overhead)
    levels = _rungs(table, r_min, r_max, eta)
    num_workers, budget, K = _workers(num_workers), _budget(budget), len(levels) - 1
    ids = table.ids(config_ids)
    results: list[list[tuple[float, int]]] = [[] for _ in range(K)]  # per rung
    promoted: list[set[int]] = [set() for _ in range(K)]  # trials, per rung
    position: dict[tuple[int, int], int] = {}  # (trial, rung) -> index in jobs
    jobs: list[Job] = []
    running: dict[int, Job] = {}  # worker -> its job
    waiting: list[int] = []  # workers without work
    free = [(0.0, worker) for worker in range(num_workers)]
    next_trial = 0

    def next_job(now: float, worker: int) -> Job | None:
        nonlocal next_trial
        for i in reversed(range(K)):  # the highest rung first
            top = _ranked(results[i])[: len(results[i]) // eta]
            for _, trial in top:
                if trial not in promoted[i]:
                    promoted[i].add(trial)
                    start_epoch = levels[i] if resume else 0
                    return table.job(
                        worker,
                        trial,
                        ids[trial],
                        now,
                        start_epoch,
                        levels[i + 1],
                        rung=i + 1,
                    )
        if next_trial < len(ids):
            next_trial += 1
            trial = next_trial - 1
            return table.job(worker, trial, ids[trial], now, 0, levels[0], rung=0)
        return None

    while free:
        now, worker = heapq.heappop(free)
        if worker in running:  # record the result of the job it finished
            job = running.pop(worker)
            if job.rung < K:
                results[job.rung].append((job.error, job.trial))
            for other in waiting:  # a new result: those waiting may ask again
                heapq.heappush(free, (now, other))
            waiting.clear()
        job = next_job(now, worker) if now < budget else None
        if job is None:
            waiting.append(worker)
            continue
        position[job.trial, job.rung] = len(jobs)
        jobs.append(job)
        running[worker] = job
        heapq.heappush(free, (job.end, worker))
    for i in range(K):
        for trial in promoted[i]:
            jobs[position[trial, i]] = dataclasses.replace(
                jobs[position[trial, i]], promoted=True
            )
    return Simulation(jobs, num_workers, levels[-1], tuple(levels))


def optuna_promotable(error: float, competing: Sequence[float], eta: int) -> bool:
    """Optuna's rule: whether `error` goes on, among `competing` (itself included).

    The trial continues if its error is at most the ``len // eta``-th smallest of
    the errors recorded at the rung so far, so the first trial always continues.
    """
    idx = len(competing) // eta - 1
    return error <= sorted(competing)[max(idx, 0)]


def _asha_stopping(
    curves, config_ids, num_workers, r_min, r_max, eta, budget, overhead
) -> Simulation:
    """ASHA as Optuna's ``SuccessiveHalvingPruner`` does it: stop, never pause.

    A trial trains on one worker until it is stopped or reaches `r_max`; a job is
    emitted per rung segment, so that figures can show the rungs. At a rung level
    below `r_max` it records its error and goes on only if `optuna_promotable`
    (``min_early_stopping_rate=0``), comparing with the errors recorded at that
    rung earlier in simulated time (equal times: the lower worker index first).
    The overhead is paid once per trial. A trial still running at `budget` is cut
    there, with the epochs it finished by then.
    """
    table = _Table(curves, overhead)
    levels = _rungs(table, r_min, r_max, eta)
    num_workers, budget, K = _workers(num_workers), _budget(budget), len(levels) - 1
    ids = table.ids(config_ids)
    recorded: list[list[float]] = [[] for _ in range(K)]  # errors per rung
    jobs: list[Job] = []
    running: dict[int, int] = {}  # worker -> index of its job in jobs
    free = [(0.0, worker) for worker in range(num_workers)]
    next_trial = 0

    def start(worker: int, now: float, trial: int, i: int) -> None:
        """Train `trial` on `worker` from `now` up to rung `i`, or to `budget`."""
        start_epoch = levels[i - 1] if i > 0 else 0
        job = table.job(
            worker,
            trial,
            ids[trial],
            now,
            start_epoch,
            levels[i],
            rung=i,
            setup=i == 0,
        )
        if job.end > budget:  # cut: keep the epochs finished by the budget
            job = table.cut(job, budget, setup=i == 0)
        else:
            heapq.heappush(free, (job.end, worker))
            running[worker] = len(jobs)
        jobs.append(job)

    while free:
        now, worker = heapq.heappop(free)
        if worker in running:
            index = running.pop(worker)
            job = jobs[index]
            if job.rung < K:
                recorded[job.rung].append(job.error)
                if optuna_promotable(job.error, recorded[job.rung], eta):
                    if now < budget:
                        start(worker, now, job.trial, job.rung + 1)
                    continue
                jobs[index] = dataclasses.replace(job, stopped=True)
        if now < budget and next_trial < len(ids):
            next_trial += 1
            start(worker, now, next_trial - 1, 0)
    jobs.sort(key=lambda job: (job.start, job.worker))
    return Simulation(jobs, num_workers, levels[-1], tuple(levels))


def speedup(
    curves: LearningCurves,
    config_ids: Sequence[int],
    workers: Sequence[int] = (1, 2, 4, 8),
    budget: float = 600.0,
    max_epochs: int = 10,
    overhead: float = 0.0,
) -> pd.DataFrame:
    """Asynchronous random search on 1, 2, 4, 8 workers, compared with one.

    A row per number of workers: the trials finished within `budget` seconds and
    that number's ratio to one worker's; the time to finish all the trials of
    `config_ids` and one worker's time divided by it (the speed-up); and the
    share of worker time spent idle, waiting at the end for the last trials.
    The trials finished within `budget` cannot exceed ``len(config_ids)``: where
    the workers finish them all in time, only the speed-up compares.
    """
    budget = positive_float(budget, "budget")
    rows = []
    for k in workers:
        run = asynchronous(curves, config_ids, k, max_epochs, overhead=overhead)
        rows.append(
            {
                "workers": k,
                "finished_in_budget": run.trials_finished(budget),
                "time_to_finish_all": run.makespan,
                "idle_share": run.idle_seconds() / (k * run.makespan),
            }
        )
    frame = pd.DataFrame(rows)
    frame.insert(
        2,
        "budget_ratio",
        frame["finished_in_budget"] / frame["finished_in_budget"].iloc[0],
    )
    frame.insert(
        4,
        "speedup",
        frame["time_to_finish_all"].iloc[0] / frame["time_to_finish_all"],
    )
    return frame


def idle_comparison(
    curves: LearningCurves,
    config_ids: Sequence[int],
    num_workers: int = 2,
    r_min: int = 2,
    r_max: int = 10,
    eta: int = 2,
    until: float | None = None,
    resume: bool = True,
    overhead: float = 0.0,
) -> pd.DataFrame:
    """Synchronous successive halving against ASHA on the same configurations.

    A row per method (synchronous SH, ASHA promoting, ASHA stopping): the
    makespan; until `until` seconds (default: each method's own makespan) the
    seconds the workers were busy and idle, the epochs trained, the trials trained
    to `r_max` and the best error found. Once the configurations run out, ASHA's
    workers idle too, waiting for the last trials: a common `until` before that
    compares the waiting at the rungs alone.
    """
    options = {"r_min": r_min, "r_max": r_max, "eta": eta, "overhead": overhead}
    runs = {
        "synchronous SH": synchronous_successive_halving(
            curves, config_ids, num_workers, resume=resume, **options
        ),
        "ASHA (promotion)": asha(
            curves, config_ids, num_workers, resume=resume, **options
        ),
        "ASHA (stopping)": asha(
            curves, config_ids, num_workers, variant="stopping", **options
        ),
    }
    rows = {}
    for name, run in runs.items():
        end = run.makespan if until is None else float(until)
        done = [job for job in run.jobs if job.end <= end]
        rows[name] = {
            "makespan": run.makespan,
            "busy_seconds": run.num_workers * end - run.idle_seconds(end),
            "idle_seconds": run.idle_seconds(end),
            "epochs_trained": sum(job.epochs for job in done),
            "trained_to_r_max": sum(job.end_epoch == r_max for job in done),
            "best_error": run.best_error(end),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
