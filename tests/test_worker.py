"""`python -m d2l_hpo.worker` for real: processes sharing a study in PostgreSQL.

A throw-away PostgreSQL server (tests/pg_server.py) holds the study; the workers
replay the recorded LeNet curves in real time (`replay_lenet`, sped up), so that a
trial takes about two seconds and results can be checked against the table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from d2l_hpo.curves import LearningCurves
from d2l_hpo.space import lenet_config_space
from d2l_hpo.studies import config_id, create_study, load_study
from tests import pg_server

PASSWORD = "s3cret-Pa55word-for-tests"
INITIAL = {"learning_rate": 0.1, "batch_size": 128}
TIME_SCALE = 0.025  # a 10-epoch trial takes about 2 s

if not pg_server.available():
    if os.environ.get("D2L_HPO_REQUIRE_POSTGRES"):
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh")
    pytest.skip("PostgreSQL is not installed", allow_module_level=True)


@pytest.fixture
def server():
    server = pg_server.PostgresServer(PASSWORD)
    server.start()
    server.create_database()
    yield server
    server.stop(remove=True)


@pytest.fixture
def processes():
    """Worker processes started by a test, killed if it fails half-way."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()


def wait_for(condition, timeout: float = 60) -> None:
    end = time.time() + timeout
    while not condition():
        assert time.time() < end, "timed out"
        time.sleep(0.2)


def new_study(url: str, name: str, env: dict) -> None:
    os.environ["PGPASSWORD"] = env["PGPASSWORD"]
    try:
        create_study(
            url,
            name,
            "d2l_hpo.curves:replay_lenet",
            lenet_config_space(),
            initial_config=INITIAL,
            seed=0,
            max_epochs=10,
            objective_kwargs={"time_scale": TIME_SCALE},
        )
    finally:
        del os.environ["PGPASSWORD"]


def start_worker(url, study, name, folder: Path, env, *args) -> subprocess.Popen:
    log = open(folder / f"{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "d2l_hpo.worker", "--storage", url, "--study", study]
        + ["--name", name, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def worker_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def finished_trials(url, study_name) -> list[optuna.trial.FrozenTrial]:
    os.environ["PGPASSWORD"] = PASSWORD
    try:
        study, _ = load_study(url, study_name)
        return study.get_trials(deepcopy=True)
    finally:
        del os.environ["PGPASSWORD"]


def check_results(trials) -> None:
    """Each configuration finished once, with the table's result for it."""
    curves = LearningCurves.load()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ids = [config_id(t) for t in complete]
    assert len(ids) == len(set(ids)), "a configuration was counted twice"
    for trial in complete:
        row = curves.nearest(**trial.params)
        if config_id(trial) < len(curves):
            assert row == config_id(trial)
        assert trial.value == curves.error(row)


def wait(processes, timeout: float) -> list[int]:
    end = time.time() + timeout
    codes = []
    for process in processes:
        codes.append(process.wait(timeout=max(1.0, end - time.time())))
    return codes


def test_three_workers_survive_a_killed_one(server, tmp_path, processes):
    url = server.url()
    new_study(url, "scale-out", {"PGPASSWORD": PASSWORD})
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{server.port}:*:{pg_server.USER}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    envs = [
        worker_env(PGPASSWORD=PASSWORD),
        worker_env(PGPASSWORD=PASSWORD),
        worker_env(PGPASSFILE=str(pgpass)),  # the password from a .pgpass file
    ]
    budget = ["--max-trials", "18"]
    workers = [
        start_worker(url, "scale-out", f"w{i}", tmp_path, envs[i], *budget) for i in range(3)
    ]
    processes += workers
    # Kill w1 in the middle of a trial: after its trial's first report.
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline:
        for trial in finished_trials(url, "scale-out"):
            running = trial.state == TrialState.RUNNING
            if running and trial.user_attrs.get("worker") == "w1":
                if trial.intermediate_values:
                    victim = trial
        time.sleep(0.2)
    assert victim is not None, "w1 never ran a trial"
    workers[1].send_signal(signal.SIGKILL)
    # Early enough that the others are still at work when its heartbeat is missed.
    done = finished_trials(url, "scale-out")
    assert sum(t.state == TrialState.COMPLETE for t in done) <= 8
    assert wait([workers[0], workers[2]], timeout=120) == [0, 0]

    trials = finished_trials(url, "scale-out")
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL  # found stale by the heartbeat
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert [t.state for t in retries] == [TrialState.COMPLETE]
    assert retries[0].params == victim.params
    assert retries[0].user_attrs["worker"] in ("w0", "w2")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) >= 18
    check_results(trials)
    # The password reached the workers only through the environment and .pgpass.
    for log in tmp_path.glob("*.log"):
        assert PASSWORD not in log.read_text()


def test_workers_outlive_a_database_restart(server, tmp_path, processes):
    url = server.url()
    new_study(url, "restart", {"PGPASSWORD": PASSWORD})
    env = worker_env(PGPASSWORD=PASSWORD)
    patient = [
        start_worker(url, "restart", f"w{i}", tmp_path, env, "--max-trials", "16") for i in range(2)
    ]
    # This one has the password in its URL (and is warned), and gives up quickly.
    hasty = start_worker(
        server.url(with_password=True),
        "restart",
        "hasty",
        tmp_path,
        worker_env(),
        "--max-trials",
        "16",
        "--reconnect-timeout",
        "2",
    )
    processes += [*patient, hasty]

    def four_done():
        trials = finished_trials(url, "restart")
        return sum(t.state == TrialState.COMPLETE for t in trials) >= 4

    wait_for(four_done)
    before = {
        t.number: t.value for t in finished_trials(url, "restart") if t.state == TrialState.COMPLETE
    }
    server.stop()
    time.sleep(6)
    assert hasty.wait(timeout=30) == 3  # NO_STORAGE: gave up, with a message
    server.start()
    assert wait(patient, timeout=120) == [0, 0]
    again = start_worker(url, "restart", "again", tmp_path, env, "--max-trials", "16")
    processes.append(again)
    assert again.wait(timeout=60) == 0

    trials = finished_trials(url, "restart")
    after = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}
    assert all(after[number] == value for number, value in before.items())
    assert len(after) >= 16
    check_results(trials)

    logs = {log.stem: log.read_text() for log in tmp_path.glob("*.log")}
    assert "unreachable, retrying" in logs["w0"] + logs["w1"]
    assert "giving up" in logs["hasty"] and "Start the worker again" in logs["hasty"]
    assert "the storage URL holds a password" in logs["hasty"]
    assert f"postgresql://{pg_server.USER}:***@127.0.0.1" in logs["hasty"]
    for text in logs.values():
        assert PASSWORD not in text
