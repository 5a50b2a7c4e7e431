"""The tuner's journal: every trial on disk as it ends, and a search that resumes.

The last test kills a search with SIGKILL halfway and resumes it in a new process.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from scipy import stats

from d2l_hpo.checkpoints import CheckpointStore
from d2l_hpo.journal import JournalError
from d2l_hpo.schedulers import BasicScheduler, SuccessiveHalvingScheduler
from d2l_hpo.searchers import RandomSearcher
from d2l_hpo.tuner import HPOTuner

SPACE = {"x": stats.uniform(0, 1)}


def resumable(x, max_epochs, *, report, checkpoint):
    """A learning curve that continues from its checkpoint, as LeNet's does."""
    state = checkpoint.load() if checkpoint else None
    start = 0 if state is None else state["epoch"]
    for epoch in range(start + 1, max_epochs + 1):
        report(epoch=epoch, validation_error=x + 1 / epoch)
    if checkpoint:
        checkpoint.save({"epoch": max_epochs})
    return x + 1 / max_epochs


def sh_tuner(journal, seed=0, objective=resumable):
    searcher = RandomSearcher(SPACE, seed=seed)
    scheduler = SuccessiveHalvingScheduler(searcher, 2, 2, 10, use_checkpoints=True)
    return HPOTuner(scheduler, objective, seed=seed, journal=journal, progress=False)


def outcome(tuner):
    return [(t.trial_id, t.config, t.error, t.status, t.curve) for t in tuner.results.trials]


def test_every_trial_is_on_disk_as_it_ends(tmp_path):
    journal = tmp_path / "search.jsonl"
    tuner = sh_tuner(journal)
    tuner.run(5)
    lines = journal.read_text().splitlines()
    assert json.loads(lines[0])["seed"] == 0
    entries = [json.loads(line) for line in lines[1:]]
    assert [e["config"] for e in entries] == [t.config for t in tuner.results.trials]
    assert [e["curve"] for e in entries] == [
        [list(point) for point in t.curve] for t in tuner.results.trials
    ]
    assert all(len(e["curve"]) == 2 for e in entries)  # rung 2: epochs 1 and 2


def test_a_new_tuner_on_the_journal_resumes_and_ends_like_an_uninterrupted_one(tmp_path):
    whole = sh_tuner(tmp_path / "whole.jsonl")
    whole.run(30)
    part = sh_tuner(tmp_path / "part.jsonl")
    part.run(11)  # in the middle of rung 4
    resumed = sh_tuner(tmp_path / "part.jsonl")
    assert len(resumed.results) == 11
    resumed.run(30)
    assert outcome(resumed) == outcome(whole)
    # Promotions continued from checkpoints on disk: 34 epochs per round, not 58.
    assert sum(t.epochs_trained for t in resumed.results.trials) == 2 * 34


def test_a_finished_search_runs_nothing_again(tmp_path):
    calls = []

    def counted(x, max_epochs, *, report, checkpoint):
        calls.append(x)
        return resumable(x, max_epochs, report=report, checkpoint=checkpoint)

    sh_tuner(tmp_path / "j.jsonl", objective=counted).run(15)
    sh_tuner(tmp_path / "j.jsonl", objective=counted).run(15)
    assert len(calls) == 15


def test_a_journal_of_another_search_is_refused(tmp_path):
    journal = tmp_path / "j.jsonl"
    sh_tuner(journal, seed=0).run(3)
    with pytest.raises(JournalError, match="seed 0, not 1"):
        sh_tuner(journal, seed=1)
    basic = BasicScheduler(RandomSearcher(SPACE, seed=7))
    with pytest.raises(JournalError, match="belongs to another search"):
        HPOTuner(basic, resumable, journal=journal, progress=False)


def test_a_line_cut_short_by_a_kill_is_dropped_and_a_corrupt_one_named(tmp_path):
    journal = tmp_path / "j.jsonl"
    sh_tuner(journal).run(3)
    with journal.open("a") as f:
        f.write('{"trial_id": 3, "conf')
    resumed = sh_tuner(journal)
    assert len(resumed.results) == 3
    resumed.run(4)
    assert len(journal.read_text().splitlines()) == 1 + 4
    lines = journal.read_text().splitlines()
    lines[2] = lines[2][:-5]
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(JournalError, match="line 3"):
        sh_tuner(journal)


def test_checkpoints_are_written_whole(tmp_path):
    store = CheckpointStore(tmp_path / "c")
    store.slot(3).save({"epoch": 4})
    assert store.slot(3).load() == {"epoch": 4}
    assert store.slot(4).load() is None
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["config-3.pt"]


SEARCH = textwrap.dedent(
    """
    import sys, time
    from scipy import stats
    from d2l_hpo.schedulers import SuccessiveHalvingScheduler
    from d2l_hpo.searchers import RandomSearcher
    from d2l_hpo.tuner import HPOTuner

    def objective(x, max_epochs, *, report, checkpoint):
        state = checkpoint.load()
        start = 0 if state is None else state["epoch"]
        for epoch in range(start + 1, max_epochs + 1):
            time.sleep(0.02)  # training
            report(epoch=epoch, validation_error=x + 1 / epoch)
        checkpoint.save({"epoch": max_epochs})
        return x + 1 / max_epochs

    searcher = RandomSearcher({"x": stats.uniform(0, 1)}, seed=3)
    scheduler = SuccessiveHalvingScheduler(searcher, 2, 2, 10, use_checkpoints=True)
    tuner = HPOTuner(scheduler, objective, seed=3, journal=sys.argv[1])
    tuner.run(30)
    """
)


def test_a_search_killed_with_sigkill_resumes_where_it_stopped(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SEARCH)
    env = os.environ | {"PYTHONPATH": os.getcwd()}

    def run(journal):
        subprocess.run([sys.executable, script, journal], check=True, env=env,
                       capture_output=True, timeout=120)  # fmt: skip

    run(tmp_path / "whole.jsonl")
    killed = tmp_path / "killed.jsonl"
    process = subprocess.Popen([sys.executable, script, killed], env=env,
                               stdout=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if killed.exists() and len(killed.read_text().splitlines()) >= 1 + 12:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before = len(killed.read_text().splitlines()) - 1
    assert 12 <= finished_before < 30  # killed in the middle of the search
    run(killed)

    def trials(journal):
        entries = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
        return [(e["trial_id"], e["config"], e["error"], e["status"], e["curve"])
                for e in entries]  # fmt: skip

    assert trials(killed) == trials(tmp_path / "whole.jsonl")
    assert len(trials(killed)) == 30
