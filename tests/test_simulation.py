"""Simulated parallel workers: schedules worked out by hand, the table's sums, and Optuna."""

import dataclasses
import itertools
import math

import numpy as np
import optuna
import pandas as pd
import pytest

from d2l_hpo.curves import LearningCurves
from d2l_hpo.simulation import (
    Job,
    Simulation,
    asha,
    asynchronous,
    idle_comparison,
    optuna_promotable,
    sequential,
    speedup,
    synchronous,
    synchronous_successive_halving,
)

CURVES = LearningCurves.load()


def tiny_curves(seconds, errors) -> LearningCurves:
    """A table from lists: seconds[c][e] and errors[c][e] of config c, epoch e + 1."""
    rows = [
        {"config_id": c, "learning_rate": 0.01 * (c + 1), "batch_size": 32 + c,
         "epoch": e + 1, "validation_error": errors[c][e], "seconds": float(s)}
        for c, row in enumerate(seconds) for e, s in enumerate(row)
    ]  # fmt: skip
    return LearningCurves(pd.DataFrame(rows))


# Five configurations of 4 epochs, each epoch of a configuration taking the same whole
# number of seconds: 2, 3, 1, 2 and 1.
TINY = tiny_curves(
    seconds=[[2] * 4, [3] * 4, [1] * 4, [2] * 4, [1] * 4],
    errors=[
        [0.5, 0.4, 0.3, 0.2],
        [0.6, 0.5, 0.45, 0.4],
        [0.4, 0.35, 0.3, 0.25],
        [0.7, 0.6, 0.5, 0.45],
        [0.3, 0.2, 0.1, 0.05],
    ],
)
# r_min=1, r_max=4, eta=2: rung levels 1, 2, 4 epochs.
TINY_RUNGS = {"r_min": 1, "r_max": 4, "eta": 2}


def spans(simulation: Simulation) -> list[tuple]:
    """(worker, trial, start, end, start_epoch, end_epoch) per job, for comparing."""
    return [
        (j.worker, j.trial, j.start, j.end, j.start_epoch, j.end_epoch) for j in simulation.jobs
    ]


def test_sequential_takes_the_sum_of_the_recorded_seconds():
    ids = [3, 0, 5, 1]
    run = sequential(CURVES, ids)
    assert run.num_workers == 1 and [job.config_id for job in run.jobs] == ids
    assert run.makespan == pytest.approx(CURVES.seconds.loc[ids].to_numpy().sum(), rel=1e-12)
    assert run.idle_seconds() == 0.0
    for a, b in itertools.pairwise(run.jobs):
        assert b.start == a.end
    assert [job.error for job in run.jobs] == [CURVES.error(i) for i in ids]
    short = sequential(CURVES, ids, max_epochs=3, overhead=1.5)
    expected = CURVES.seconds.loc[ids, 1:3].to_numpy().sum() + 4 * 1.5
    assert short.makespan == pytest.approx(expected, rel=1e-12)


def test_asynchronous_on_one_worker_is_sequential():
    ids = list(range(10))
    assert asynchronous(CURVES, ids, 1).jobs == sequential(CURVES, ids).jobs


def test_asynchronous_workers_never_wait_while_trials_remain():
    ids = list(range(20))
    run = asynchronous(CURVES, ids, num_workers=3)
    assert [job.trial for job in run.jobs] == list(range(20))
    assert [job.worker for job in run.jobs[:3]] == [0, 1, 2]
    last_start = max(job.start for job in run.jobs)
    for worker in range(3):
        mine = [job for job in run.jobs if job.worker == worker]
        assert mine[0].start == 0.0
        for a, b in itertools.pairwise(mine):
            assert b.start == a.end  # straight on, exactly
        assert mine[-1].end >= last_start  # busy until the last trial started
    # Each trial goes to the worker that frees up first.
    for job in run.jobs[3:]:
        ends = [j.end for j in run.jobs if j.trial < job.trial]
        busy_then = sorted(ends)[job.trial - 3]  # the earliest end not yet taken
        assert job.start == busy_then
    assert run.idle_seconds(last_start) == 0.0


def test_asynchronous_starts_nothing_at_or_after_the_budget():
    ids = list(range(32))
    unlimited = asynchronous(CURVES, ids, 2)
    run = asynchronous(CURVES, ids, 2, budget=200.0)
    assert run.jobs == unlimited.jobs[: len(run.jobs)]
    assert all(job.start < 200.0 for job in run.jobs)
    assert unlimited.jobs[len(run.jobs)].start >= 200.0
    finished = [job for job in run.jobs if job.end <= 200.0]
    assert run.trials_finished(200.0) == len(finished) == unlimited.trials_finished(200.0)


def test_synchronous_waits_for_the_slowest_of_each_batch():
    ids = list(range(7))
    run = synchronous(CURVES, ids, num_workers=3)
    totals = CURVES.seconds.loc[ids].sum(axis=1).to_numpy()
    batches = [totals[i : i + 3] for i in range(0, 7, 3)]
    assert run.makespan == pytest.approx(sum(b.max() for b in batches), rel=1e-12)
    assert run.idle_seconds() == pytest.approx(3 * run.makespan - totals.sum(), rel=1e-9)
    assert [job.worker for job in run.jobs] == [0, 1, 2, 0, 1, 2, 0]


def test_scheduling_six_trials_sequentially_synchronously_and_asynchronously():
    ids = range(6)
    seq, sync, asy = (
        sequential(CURVES, ids),
        synchronous(CURVES, ids, 2),
        asynchronous(CURVES, ids, 2),
    )
    assert seq.busy_seconds == pytest.approx(sync.busy_seconds) == pytest.approx(asy.busy_seconds)
    assert asy.makespan < sync.makespan < seq.makespan
    assert asy.idle_seconds() < sync.idle_seconds()
    assert asy.to_frame()["worker"].tolist() == [0, 1, 0, 1, 0, 1]


def test_synchronous_successive_halving_on_the_table():
    run = synchronous_successive_halving(CURVES, range(8), num_workers=2)
    by_rung = {i: [job for job in run.jobs if job.rung == i] for i in range(4)}
    assert [len(by_rung[i]) for i in range(4)] == [8, 4, 2, 1]
    assert [{job.end_epoch for job in by_rung[i]} for i in range(4)] == [{2}, {4}, {8}, {10}]
    levels = [2, 4, 8, 10]
    for i in range(3):
        # Promoted: the best half of the rung, from the table itself (ties: earlier trial).
        errors = CURVES.errors.loc[range(8), levels[i]]
        rung = sorted((errors[job.config_id], job.trial) for job in by_rung[i])
        best = {trial for _, trial in rung[: len(rung) // 2]}
        assert {job.trial for job in by_rung[i] if job.promoted} == best
        assert {job.trial for job in by_rung[i + 1]} == best
        # The next rung starts only once every job of this rung is done.
        assert min(j.start for j in by_rung[i + 1]) == max(j.end for j in by_rung[i])
    assert not any(job.promoted for job in by_rung[3])
    assert run.epochs_trained == 8 * 2 + 4 * 2 + 2 * 4 + 1 * 2 == 34
    scratch = synchronous_successive_halving(CURVES, range(8), 2, resume=False)
    assert scratch.epochs_trained == 8 * 2 + 4 * 4 + 2 * 8 + 1 * 10
    assert all(job.start_epoch == 0 for job in scratch.jobs)
    assert run.best_error() == CURVES.errors.loc[range(8), 10].min()
    rounds = synchronous_successive_halving(CURVES, range(16), 2)
    assert rounds.epochs_trained == 2 * 34
    with pytest.raises(ValueError, match="multiple of 8"):
        synchronous_successive_halving(CURVES, range(6), 2)


def test_synchronous_successive_halving_worked_by_hand():
    # Rung 0 (1 epoch), the trials in order on the first free worker: W0 trains trial 0
    # 0-2 s and trial 2 2-3 s; W1 trial 1 0-3 s; at 3 s both are free, W0 (the lower
    # index) takes trial 3 3-5 s while W1 waits for the rung. Errors: 0.5, 0.6, 0.4, 0.7:
    # trials 2 and 0 go on, best first: 5-6 s on W0 and 5-7 s on W1 (one more epoch
    # each). Trial 2 (0.35) beats trial 0 (0.4) and trains epochs 3-4, 7-9 s.
    run = synchronous_successive_halving(TINY, range(4), 2, **TINY_RUNGS)
    assert spans(run) == [
        (0, 0, 0.0, 2.0, 0, 1), (1, 1, 0.0, 3.0, 0, 1), (0, 2, 2.0, 3.0, 0, 1),
        (0, 3, 3.0, 5.0, 0, 1), (0, 2, 5.0, 6.0, 1, 2), (1, 0, 5.0, 7.0, 1, 2),
        (0, 2, 7.0, 9.0, 2, 4),
    ]  # fmt: skip
    assert [job.promoted for job in run.jobs] == [True, False, True, False, True, False, False]
    assert (run.makespan, run.busy_seconds, run.idle_seconds()) == (9.0, 13.0, 5.0)


def test_asha_promotion_worked_by_hand():
    # Two workers, rungs at 1, 2 and 4 epochs; a worker that frees up records its result,
    # then promotes (highest rung first) or else starts the next trial.
    #  0 s: W0 starts trial 0 (ends 2 s), W1 trial 1 (ends 3 s).
    #  2 s: W0: rung 0 = {t0: .5}; top floor(1/2) = none. Starts trial 2 (ends 3 s).
    #  3 s: W0 (lower index first): rung 0 = {.5, t2: .4}, top 1 = t2: promotes it, 3-4 s.
    #       W1: rung 0 = {.5, .4, t1: .6}, top 1 = t2, taken. Starts trial 3 (ends 5 s).
    #  4 s: W0: rung 1 = {t2: .35}, none promotable; starts the last trial, 4 (ends 5 s).
    #  5 s: W0: rung 0 gets t4: .3; top 2 = t4, t2: promotes t4 to 2 epochs, 5-6 s.
    #       W1: rung 0 gets t3: .7; top 2 taken, no trial left: W1 waits.
    #  6 s: W0: rung 1 = {.35, t4: .2}, top 1 = t4: promotes it to 4 epochs, 6-8 s.
    #       W1 asks again (a result came in): nothing. At 8 s, nothing is left.
    run = asha(TINY, range(5), 2, **TINY_RUNGS)
    assert spans(run) == [
        (0, 0, 0.0, 2.0, 0, 1), (1, 1, 0.0, 3.0, 0, 1), (0, 2, 2.0, 3.0, 0, 1),
        (0, 2, 3.0, 4.0, 1, 2), (1, 3, 3.0, 5.0, 0, 1), (0, 4, 4.0, 5.0, 0, 1),
        (0, 4, 5.0, 6.0, 1, 2), (0, 4, 6.0, 8.0, 2, 4),
    ]  # fmt: skip
    assert [job.rung for job in run.jobs] == [0, 0, 0, 1, 0, 0, 1, 2]
    assert [job.promoted for job in run.jobs] == [
        False,
        False,
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    assert (run.makespan, run.busy_seconds, run.idle_seconds()) == (8.0, 13.0, 3.0)
    assert run.trials_finished() == 1 and run.time_to_finish(1) == 8.0
    assert run.incumbent_trajectory() == [
        (2.0, 0.5), (3.0, 0.4), (3.0, 0.4), (4.0, 0.35), (5.0, 0.3), (5.0, 0.3),
        (6.0, 0.2), (8.0, 0.05),
    ]  # fmt: skip
    assert run.best_error(until=4.5) == 0.35 and math.isnan(run.best_error(until=1.0))
    # From scratch, trial 2's promotion trains both epochs again: 3-5 s, not 3-4 s.
    scratch = asha(TINY, range(5), 2, resume=False, **TINY_RUNGS)
    assert spans(scratch)[3] == (0, 2, 3.0, 5.0, 0, 2)
    # With a budget of 5 s, the jobs that would start at 5 s and later do not; so
    # trial 4 is not promoted.
    early = asha(TINY, range(5), 2, budget=5.0, **TINY_RUNGS)
    assert spans(early) == spans(run)[:6] and not early.jobs[5].promoted


def test_asha_stopping_worked_by_hand():
    # Optuna's rule at a rung: go on if error <= sorted(errors there so far, own
    # included)[max(len // 2 - 1, 0)]; a trial trains on one worker until it stops.
    #  2 s: W0, t0 at 1 epoch: [.5], goes on (the first always does), 2-4 s.
    #  3 s: W1, t1: [.5, .6] -> .6 > .5, stopped. W1 starts t2, 3-4 s.
    #  4 s: W0, t0 at 2 epochs: [.4], on to 4 epochs, 4-8 s.
    #       W1, t2 at 1 epoch: [.4, .5, .6] -> .4 <= .4, on, 4-5 s; at 2 epochs,
    #       [.35, .4] -> on, 5-7 s; done at 7 s. W1 starts t3, 7-9 s.
    #  8 s: W0, t0 done; starts t4, 8-9 s.
    #  9 s: W0, t4: [.3, .4, .5, .6] -> .3 <= .4, on, 9-10 s; then [.2, .35, .4] -> on.
    #       W1, t3: [.3, .4, .5, .6, .7] -> .7 > .4, stopped. No trial left.
    run = asha(TINY, range(5), 2, variant="stopping", **TINY_RUNGS)
    assert spans(run) == [
        (0, 0, 0.0, 2.0, 0, 1), (1, 1, 0.0, 3.0, 0, 1), (0, 0, 2.0, 4.0, 1, 2),
        (1, 2, 3.0, 4.0, 0, 1), (0, 0, 4.0, 8.0, 2, 4), (1, 2, 4.0, 5.0, 1, 2),
        (1, 2, 5.0, 7.0, 2, 4), (1, 3, 7.0, 9.0, 0, 1), (0, 4, 8.0, 9.0, 0, 1),
        (0, 4, 9.0, 10.0, 1, 2), (0, 4, 10.0, 12.0, 2, 4),
    ]  # fmt: skip
    assert [job.trial for job in run.jobs if job.stopped] == [1, 3]
    assert [job.rung for job in run.jobs] == [0, 0, 1, 0, 2, 1, 2, 0, 0, 1, 2]
    assert run.trials_finished() == 5 and run.idle_seconds() == 3.0
    # At a budget of 9.5 s, t4 is cut halfway through its second epoch: 1 epoch done.
    cut = asha(TINY, range(5), 2, variant="stopping", budget=9.5, **TINY_RUNGS)
    assert cut.jobs[:9] == run.jobs[:9]
    last = cut.jobs[9]
    assert (last.trial, last.start, last.end, last.start_epoch, last.end_epoch) == (
        4,
        9.0,
        9.5,
        1,
        1,
    )
    assert last.rung is None and not last.stopped and not last.promoted
    assert cut.trials_finished(9.5) == 4 and cut.makespan == 9.5


def test_optuna_rule():
    assert optuna_promotable(0.9, [0.9], eta=2)  # the first always goes on
    assert not optuna_promotable(0.6, [0.5, 0.6], eta=2)
    assert optuna_promotable(0.4, [0.3, 0.4, 0.5, 0.6], eta=2)
    assert not optuna_promotable(0.5, [0.3, 0.4, 0.5, 0.6], eta=2)
    assert optuna_promotable(0.4, [0.5, 0.4, 0.4], eta=2)  # ties go on
    assert not optuna_promotable(0.4, [0.3, 0.4, 0.4], eta=3)


def optuna_stops(curves, config_ids, r_min, r_max, eta) -> list[int]:
    """The epoch at which Optuna's SuccessiveHalvingPruner ends each trial, one after
    another, reporting the table's errors epoch by epoch."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=r_min, reduction_factor=eta, min_early_stopping_rate=0
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    for config_id in config_ids:
        study.enqueue_trial({"config_id": config_id})

    def objective(trial):
        config_id = trial.suggest_int("config_id", 0, len(curves) - 1)
        for epoch in range(1, r_max + 1):
            trial.report(curves.error(config_id, epoch), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return curves.error(config_id, r_max)

    study.optimize(objective, n_trials=len(config_ids))
    assert [t.params["config_id"] for t in study.trials] == list(config_ids)
    return [t.last_step for t in study.trials]


def simulated_stops(run: Simulation) -> list[int]:
    last = {}
    for job in run.jobs:
        last[job.trial] = job
    assert all(job.stopped or job.end_epoch == run.final_epoch for job in last.values())
    return [last[trial].end_epoch for trial in sorted(last)]


@pytest.mark.parametrize("eta", [2, 3])
def test_asha_stopping_stops_every_trial_where_optuna_does(eta):
    # A random table with ties (errors on a coarse grid) and the recorded one; r_max is
    # not a rung level of Optuna's (1, eta, eta**2, ...), which would check it too.
    rng = np.random.default_rng(eta)
    errors = np.sort(rng.choice(np.linspace(0.1, 0.9, 9), size=(24, 5)), axis=1)[:, ::-1]
    table = tiny_curves(rng.integers(1, 5, size=(24, 5)), errors.tolist())
    order = rng.permutation(24).tolist()
    expected = optuna_stops(table, order, r_min=1, r_max=5, eta=eta)
    run = asha(table, order, 1, r_min=1, r_max=5, eta=eta, variant="stopping")
    assert simulated_stops(run) == expected
    assert 5 in expected and len(set(expected)) > 1  # some go on, some are stopped


def test_asha_stopping_on_the_table_stops_where_optuna_does():
    ids = list(range(32))
    expected = optuna_stops(CURVES, ids, r_min=2, r_max=10, eta=2)
    run = asha(CURVES, ids, 1, variant="stopping")
    assert simulated_stops(run) == expected
    assert run.makespan == pytest.approx(
        sum(CURVES.seconds.loc[i, 1:stop].sum() for i, stop in zip(ids, expected, strict=True))
    )


def test_synchronous_successive_halving_waits_where_asha_does_not():
    ids = range(32)  # four rounds of synchronous SH; ASHA draws from the same 32
    sh, promoting = synchronous_successive_halving(CURVES, ids, 2), asha(CURVES, ids, 2)
    assert sh.idle_seconds() > promoting.idle_seconds() > 0
    # Up to 600 s, ASHA still has new trials to start: its workers never waited.
    assert promoting.idle_seconds(600.0) == 0.0 < sh.idle_seconds(600.0)
    frame = idle_comparison(CURVES, ids, until=600.0)
    assert frame.loc["ASHA (promotion)", "idle_seconds"] == 0.0
    assert frame.loc["synchronous SH", "idle_seconds"] == sh.idle_seconds(600.0)
    assert (frame["busy_seconds"] + frame["idle_seconds"]).tolist() == pytest.approx([1200.0] * 3)
    # One round alone (8 trials): once no new trial is left, ASHA's workers wait too,
    # for the last trials to climb the rungs, longer than SH's do at its rungs.
    one = idle_comparison(CURVES, range(8))
    assert one.loc["ASHA (promotion)", "idle_seconds"] > one.loc["synchronous SH", "idle_seconds"]
    assert one.loc["synchronous SH", "epochs_trained"] == 34


def test_speedup_of_asynchronous_random_search():
    frame = speedup(CURVES, range(32), workers=(1, 2, 4, 8), budget=600.0)
    assert frame["workers"].tolist() == [1, 2, 4, 8]
    one = CURVES.seconds.loc[range(32)].sum(axis=1).cumsum()
    assert frame.loc[0, "finished_in_budget"] == (one <= 600.0).sum()
    assert frame.loc[0, "time_to_finish_all"] == pytest.approx(one.iloc[-1])
    assert frame["budget_ratio"].iloc[0] == frame["speedup"].iloc[0] == 1.0
    assert frame["speedup"].is_monotonic_increasing
    assert (frame["speedup"] <= frame["workers"]).all()
    eight = asynchronous(CURVES, range(32), 8)
    assert frame.loc[3, "time_to_finish_all"] == eight.makespan == eight.time_to_finish(32)


def test_runs_are_exactly_reproducible():
    ids = [5, 3, 17, 0, 9, 30, 12, 8]
    for make in (
        lambda: asynchronous(CURVES, ids, 3, budget=250.0, overhead=0.5),
        lambda: synchronous_successive_halving(CURVES, ids, 2),
        lambda: asha(CURVES, ids * 2, 3),
        lambda: asha(CURVES, ids * 2, 3, variant="stopping", budget=300.0),
    ):
        assert make() == make()
    assert speedup(CURVES, ids).equals(speedup(CURVES, ids))


def test_a_simulation_prints_as_a_frame_and_checks_its_arguments():
    frame = asha(TINY, range(5), 2, variant="stopping", budget=9.5, **TINY_RUNGS).to_frame()
    assert list(frame.columns) == [f.name for f in dataclasses.fields(Job)]
    assert frame["rung"].isna().tolist() == [False] * 9 + [True]
    with pytest.raises(ValueError, match="config_id 99 is not in the table"):
        sequential(CURVES, [0, 99])
    with pytest.raises(ValueError, match="the table has 10 epochs"):
        asynchronous(CURVES, [0], 2, max_epochs=11)
    with pytest.raises(ValueError, match="variant"):
        asha(CURVES, [0], 2, variant="pausing")
    with pytest.raises(ValueError, match="num_workers"):
        synchronous(CURVES, [0], 0)
    with pytest.raises(ValueError, match="overhead"):
        sequential(CURVES, [0], overhead=-1.0)


def test_incumbent_at_reads_the_trajectory_like_search_results():
    run = asynchronous(CURVES, list(range(6)), 2)
    trajectory = run.incumbent_trajectory()
    first_end, first_best = trajectory[0]
    last_end, last_best = trajectory[-1]
    found = run.incumbent_at([0.0, first_end, last_end + 1])
    assert np.isnan(found[0]) and found[1] == first_best and found[2] == last_best
    assert last_best == min(CURVES.error(i) for i in range(6))


def test_waits_are_the_gaps_between_a_workers_jobs():
    sync = synchronous(CURVES, list(range(6)), 2)
    waits = sync.waits()
    assert len(waits) == 4 and min(waits) >= 0  # 3 jobs per worker: 2 gaps each
    # Everything the workers waited for between jobs is idle time, and only the
    # waiting after the last job is not a wait.
    last = sum(sync.makespan - jobs[-1].end for jobs in sync.by_worker())
    assert sum(waits) + last == pytest.approx(sync.idle_seconds())
    assert asynchronous(CURVES, list(range(6)), 2).waits() == [0.0] * 4
