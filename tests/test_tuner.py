"""HPOTuner: both objective conventions, the chapter's bookkeeping, failures, Ctrl-C."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from d2l_hpo.schedulers import BasicScheduler, SuccessiveHalvingScheduler
from d2l_hpo.searchers import RandomSearcher
from d2l_hpo.seeding import trial_seed
from d2l_hpo.tuner import HPOTuner, call_objective

SPACE = {"learning_rate": stats.loguniform(1e-2, 1), "batch_size": stats.randint(32, 256)}


def chapter_style(learning_rate, batch_size, max_epochs=10):
    """Keywords in, a 0-dim tensor out, as the chapter's hpo_objective_lenet."""
    return torch.tensor(learning_rate / batch_size + 1 / max_epochs)


def section_19_1_style(config, max_epochs=8, **data):
    """A dict in, a float out, as 19.1's hpo_objective_softmax_classification."""
    assert not data
    return config["learning_rate"] / config["batch_size"] + 1 / max_epochs


def tuner_for(objective, scheduler=None, **kwargs):
    scheduler = scheduler or BasicScheduler(RandomSearcher(SPACE, seed=2))
    return HPOTuner(scheduler, objective, progress=False, **kwargs)


@pytest.mark.parametrize("objective", [chapter_style, section_19_1_style])
def test_both_objective_conventions_plug_in_unchanged(objective):
    tuner = tuner_for(objective)
    tuner.run(4)
    assert [t.status for t in tuner.results.trials] == ["completed"] * 4
    default_epochs = 10 if objective is chapter_style else 8
    for trial in tuner.results.trials:
        c = trial.config
        assert trial.error == pytest.approx(
            c["learning_rate"] / c["batch_size"] + 1 / default_epochs
        )


@pytest.mark.parametrize("objective", [chapter_style, section_19_1_style])
def test_a_schedulers_max_epochs_reaches_both_conventions(objective):
    scheduler = SuccessiveHalvingScheduler(RandomSearcher(SPACE, seed=2), 2, 2, 10)
    tuner = tuner_for(objective, scheduler)
    tuner.run(15)
    for trial in tuner.results.trials:
        c = trial.config
        expected = c["learning_rate"] / c["batch_size"] + 1 / c["max_epochs"]
        assert trial.error == pytest.approx(expected)


def test_extras_go_only_to_objectives_that_name_them():
    seen = {}

    def reporting(x, *, report=None, checkpoint=None):
        seen.update(report=report, checkpoint=checkpoint)
        return x

    assert call_objective(lambda config: config["x"], {"x": 0.5}, report=print) == 0.5
    assert call_objective(reporting, {"x": 0.25}, report=print) == 0.25
    assert seen == {"report": print, "checkpoint": None}


def test_the_chapters_bookkeeping():
    tuner = tuner_for(section_19_1_style)
    tuner.run(6)
    errors = [r["error"] for r in tuner.records]
    assert tuner.incumbent_trajectory == np.minimum.accumulate(errors).tolist()
    assert tuner.cumulative_runtime == pytest.approx(
        np.cumsum([r["runtime"] for r in tuner.records])
    )
    assert tuner.incumbent_error == min(errors)
    assert tuner.incumbent == tuner.records[int(np.argmin(errors))]["config"]
    times = [0.0, tuner.cumulative_runtime[2], tuner.cumulative_runtime[-1] + 1]
    found = tuner.results.incumbent_at(times)
    assert math.isnan(found[0]) or tuner.cumulative_runtime[0] == 0
    assert found[1:].tolist() == [min(errors[:3]), min(errors)]


def test_each_configuration_has_its_own_seed():
    draws = []

    def draw(x):
        draws.append(torch.rand(1).item())
        return x

    scheduler = BasicScheduler(RandomSearcher({"x": stats.uniform(0, 1)}, seed=0))
    HPOTuner(scheduler, draw, seed=5, progress=False).run(3)
    expected = []
    for config_id in range(3):
        torch.manual_seed(trial_seed(5, config_id))
        expected.append(torch.rand(1).item())
    assert draws == expected


def test_reported_seconds_make_a_simulated_clock():
    def simulated(x, report):
        for epoch in (1, 2):
            report(epoch=epoch, validation_error=x / epoch, seconds=1.5)
        return x / 2

    tuner = tuner_for(simulated, BasicScheduler(RandomSearcher({"x": stats.uniform(0, 1)})))
    tuner.run(3)
    assert tuner.cumulative_runtime == [3.0, 6.0, 9.0]
    trial = tuner.results.trials[0]
    assert trial.curve == ((1, trial.config["x"]), (2, trial.config["x"] / 2))
    assert trial.epochs_trained == 2


@pytest.mark.parametrize("bad", [None, "0.3", math.nan, -1.0, torch.ones(2)])
def test_a_failing_trial_is_recorded_and_the_search_goes_on(bad, capsys):
    calls = []

    def objective(x):
        calls.append(x)
        if len(calls) == 2:
            if bad is None:
                raise RuntimeError("CUDA out of memory")
            return bad
        return x

    scheduler = BasicScheduler(RandomSearcher({"x": stats.uniform(0, 1)}))
    tuner = HPOTuner(scheduler, objective)
    tuner.run(4)
    assert [t.status for t in tuner.results.trials] == [
        "completed", "failed", "completed", "completed"
    ]  # fmt: skip
    failed = tuner.results.trials[1]
    assert math.isnan(failed.error)
    assert ("CUDA out of memory" if bad is None else "trial 1 returned") in failed.message
    assert "Search done: 4 trials: 3 completed, 1 failed." in capsys.readouterr().out
    assert not math.isnan(tuner.incumbent_trajectory[1])


def test_ctrl_c_keeps_the_finished_trials_and_the_next_run_repeats_the_cut_one():
    def objective(x):
        if stop_at and len(tuner.results) == stop_at:
            raise KeyboardInterrupt
        return x

    def make():
        return tuner_for(objective, BasicScheduler(RandomSearcher({"x": stats.uniform(0, 1)})))

    stop_at = 0
    whole = make()
    tuner = whole
    whole.run(6)
    tuner = make()
    stop_at = 3
    tuner.run(6)
    assert tuner.results.interrupted and len(tuner.results) == 3
    stop_at = 0
    tuner.run(6)
    assert not tuner.results.interrupted
    assert [t.config for t in tuner.results.trials] == [t.config for t in whole.results.trials]
    assert [t.error for t in tuner.results.trials] == [t.error for t in whole.results.trials]


def test_number_of_trials_is_checked():
    with pytest.raises(ValueError, match="number_of_trials must be a positive integer"):
        tuner_for(chapter_style).run(0)


def test_progress_lines_of_long_configurations_fit_a_notebook_column(capsys):
    config = {"num_hiddens_1": 256, "num_hiddens_2": 256, "dropout_1": 0.5,
              "dropout_2": 0.5, "lr": 0.1, "batch_size": 256}  # fmt: skip
    tuner = HPOTuner(BasicScheduler(RandomSearcher({"lr": stats.uniform(0, 1)})),
                     lambda config: 0.25)  # fmt: skip
    tuner.evaluate(config)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Trial 0: num_hiddens_1 = 256, num_hiddens_2 = 256, dropout_1 = 0.5,",
        "    dropout_2 = 0.5, lr = 0.1, batch_size = 256 -> validation error 0.2500",
    ]
