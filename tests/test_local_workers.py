"""Local worker processes on a journal file: progress lines, budget, a killed worker."""

import time

import pytest
from optuna.trial import TrialState

from d2l_hpo.curves import LearningCurves
from d2l_hpo.local_workers import LocalWorkers, requeue_running
from d2l_hpo.space import lenet_config_space
from d2l_hpo.studies import config_id, create_study, load_study

INITIAL = {"learning_rate": 0.1, "batch_size": 128}


def make(tmp_path, name, **settings):
    create_study(
        tmp_path / f"{name}.journal",
        name,
        "d2l_hpo.curves:replay_lenet",
        lenet_config_space(),
        initial_config=INITIAL,
        objective_kwargs={"time_scale": 0.02},  # 10 epochs in about 2 s
        **settings,
    )
    return tmp_path / f"{name}.journal"


def test_a_killed_worker_loses_nothing_and_is_replaced(tmp_path, capsys):
    journal = make(tmp_path, "kill")
    workers = LocalWorkers(journal, "kill", num_workers=2, max_wallclock_time=24)
    workers.start()
    study = workers.study
    victim = None
    while victim is None and workers.clock() < 12:
        workers.watch(0.3)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get("worker") == "worker 1" and trial.intermediate_values:
                victim = trial.number
    assert victim is not None
    workers.kill(1)
    workers.watch()
    out = capsys.readouterr().out
    assert "worker 1 died (killed by SIGKILL)" in out
    assert f"trial {victim} failed with its worker, queued again as trial" in out
    assert "worker 1 started again" in out
    assert "ends trial" in out
    assert all(len(line) <= 80 for line in out.splitlines())

    trials = load_study(journal, "kill")[0].get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == victim]
    assert len(retry) == 1 and retry[0].params == trials[victim].params
    curves = LearningCurves.load()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len({config_id(t) for t in complete}) == len(complete)
    for trial in complete:
        assert trial.value == curves.error(curves.nearest(**trial.params))
    frame = workers.trials()
    assert set(frame["worker"]) == {"worker 0", "worker 1"}
    assert frame["start"].min() > 0 and frame["end"].max() <= 24 + 3


def test_after_a_crash_running_trials_are_queued_again(tmp_path):
    journal = make(tmp_path, "crash")
    study, _ = load_study(journal, "crash")
    trial = study.ask()  # left running, as by a process that died
    trial.suggest_float("learning_rate", 1e-2, 1, log=True)
    trial.suggest_int("batch_size", 32, 255)
    assert requeue_running(study) == [0]
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.FAIL, TrialState.WAITING]
    assert study.trials[1].params == study.trials[0].params


def test_the_budget_stops_every_worker(tmp_path):
    journal = make(tmp_path, "budget")
    start = time.time()
    frame = LocalWorkers(journal, "budget", 2, 12, progress=False).run()
    assert time.time() - start < 12 + 5
    assert len(frame) >= 1 and not (frame["state"] == "running").any()
    assert (frame["start"] < 12).all()


def test_a_worker_that_cannot_work_is_not_started_again(tmp_path, capsys):
    journal = make(tmp_path, "broken")
    with pytest.raises(KeyError, match="no study 'missing'"):
        LocalWorkers(journal, "missing", 1, 20)
    workers = LocalWorkers(journal, "broken", 1, 20)
    journal.unlink()  # the worker will find no study
    start = time.time()
    workers.run()
    out = capsys.readouterr().out
    assert "worker 0 died (exit status 2)" in out
    assert "is not started again: worker 0: no study 'broken'" in out
    assert time.time() - start < 15
