"""Searchers, the trial loop and its results."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from d2l_hpo.search import grid_search, random_search, run_search
from d2l_hpo.searchers import GridSearcher, RandomSearcher, equispaced_grid
from d2l_hpo.seeding import trial_seed
from d2l_hpo.space import Categorical, IntLogUniform
from d2l_hpo.tuner import SearchResults, Trial

SPACE = {
    "learning_rate": stats.loguniform(1e-4, 1),
    "batch_size": IntLogUniform(8, 256),
    "activation": Categorical(["tanh", "relu"]),
}


def quadratic(config):
    """A cheap objective whose minimum is at learning rate 1e-2."""
    return (math.log10(config["learning_rate"]) + 2) ** 2


def test_same_seed_same_configurations_other_seed_others():
    first = random_search(quadratic, SPACE, num_trials=6, seed=1, progress=False)
    again = random_search(quadratic, SPACE, num_trials=6, seed=1, progress=False)
    other = random_search(quadratic, SPACE, num_trials=6, seed=2, progress=False)
    configs = [t.config for t in first.trials]
    assert configs == [t.config for t in again.trials]
    assert configs != [t.config for t in other.trials]
    assert len({c["learning_rate"] for c in configs}) == 6
    assert [t.trial_id for t in first.trials] == list(range(6))


def test_each_trial_starts_from_its_own_seed():
    def draw(config):
        return torch.rand(1).item()

    results = run_search(draw, RandomSearcher(SPACE, seed=0), 3, seed=5, progress=False)
    expected = []
    for trial_id in range(3):
        torch.manual_seed(trial_seed(5, trial_id))
        expected.append(torch.rand(1).item())
    assert [t.error for t in results.trials] == expected


def test_grid_search_enumerates_the_whole_cartesian_product():
    grid = {"learning_rate": [0.1, 0.01, 0.001], "batch_size": [16, 64], "act": ["relu"]}
    results = grid_search(quadratic, grid, progress=False)
    configs = [tuple(t.config.values()) for t in results.trials]
    assert len(configs) == len(set(configs)) == 6 == len(GridSearcher(grid))
    assert set(configs) == {(lr, b, "relu") for lr in grid["learning_rate"] for b in (16, 64)}
    assert results.best_config == {"learning_rate": 0.01, "batch_size": 16, "act": "relu"}


def test_equispaced_grid_covers_each_range():
    grid = equispaced_grid(SPACE, 3)
    assert np.allclose(grid["learning_rate"], [1e-4, 1e-2, 1])
    assert grid["batch_size"] == [8, 45, 256] and grid["activation"] == ["tanh", "relu"]
    assert len(GridSearcher(grid)) == 18


def test_a_grid_may_be_any_iterable_of_values():
    searcher = GridSearcher({"learning_rate": np.logspace(-3, -1, 3), "depth": range(1, 3)})
    assert len(searcher) == 6
    configs = [searcher.sample_configuration() for _ in range(7)]
    assert configs[0] == {"learning_rate": 1e-3, "depth": 1} and configs[6] is None


@pytest.mark.parametrize(
    "grid", [{}, {"learning_rate": []}, {"learning_rate": "0.1"}, {"learning_rate": 0.1}]
)
def test_bad_grids_are_named(grid):
    with pytest.raises(ValueError, match="learning_rate|no hyperparameters"):
        GridSearcher(grid)


def test_results_table_best_and_incumbent():
    results = random_search(quadratic, SPACE, num_trials=8, seed=0, progress=False)
    frame = results.to_dataframe()
    assert list(frame.columns) == [
        "learning_rate", "batch_size", "activation", "error", "status", "runtime"
    ]  # fmt: skip
    assert set(frame["status"]) == {"completed"}
    assert list(frame.index) == list(range(8)) and (frame["runtime"] >= 0).all()
    errors = frame["error"].to_numpy()
    assert results.best().error == errors.min()
    assert results.best_config == results.trials[int(errors.argmin())].config
    assert np.array_equal(results.incumbent_trajectory(), np.minimum.accumulate(errors))


def test_nan_errors_never_win():
    trials = [Trial(0, {"x": 1}, math.nan, 0.0), Trial(1, {"x": 2}, 0.5, 0.0),
              Trial(2, {"x": 3}, 0.7, 0.0)]  # fmt: skip
    results = SearchResults(trials)
    assert results.best().trial_id == 1
    trajectory = results.incumbent_trajectory()
    assert math.isnan(trajectory[0]) and list(trajectory[1:]) == [0.5, 0.5]
    with pytest.raises(ValueError, match="no trial"):
        SearchResults([trials[0]]).best()


def test_progress_prints_one_line_per_trial(capsys):
    random_search(quadratic, {"learning_rate": stats.loguniform(1e-4, 1)}, 3, seed=0)
    *lines, summary = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"Trial {i}: learning_rate = ") for i, line in enumerate(lines))
    assert all(" -> validation error " in line for line in lines)
    assert summary == "Search done: 3 trials: 3 completed, 0 failed."


def test_bad_search_arguments():
    for num_trials in (0, -1, 2.5, math.nan, math.inf, True, "3"):
        with pytest.raises(ValueError, match="num_trials must be"):
            random_search(quadratic, SPACE, num_trials=num_trials)
    for seed in (-1, 1.5, None, True, "0"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            random_search(quadratic, SPACE, num_trials=2, seed=seed)
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            run_search(quadratic, GridSearcher({"learning_rate": [0.1]}), seed=seed)
    assert len(random_search(quadratic, SPACE, np.int64(2), seed=np.uint8(3), progress=False)) == 2
    with pytest.raises(ValueError, match="never runs out"):
        run_search(quadratic, RandomSearcher(SPACE), num_trials=None)
    with pytest.raises(ValueError, match="'batch_size'"):
        random_search(quadratic, {**SPACE, "batch_size": IntLogUniform(256, 8)}, 3)


def flaky(config):
    """Fails on large learning rates, as a diverging or buggy objective would."""
    if config["learning_rate"] > 0.1:
        raise RuntimeError(f"diverged at {config['learning_rate']:.3g}")
    return quadratic(config)


def test_a_failing_trial_is_recorded_and_the_search_goes_on(capsys):
    results = random_search(flaky, SPACE, num_trials=12, seed=0)
    failed = results.failed
    assert 0 < len(failed) < 12 and len(results) == 12
    assert [t.trial_id for t in results.trials] == list(range(12))
    for trial in failed:
        assert trial.status == "failed" and math.isnan(trial.error)
        assert trial.config["learning_rate"] > 0.1
        assert trial.message.startswith("RuntimeError: diverged at ")
        assert "in flaky" in trial.traceback
    completed = [t for t in results.trials if not t.failed]
    assert results.best() == min(completed, key=lambda t: t.error)
    assert results.to_dataframe()["status"].value_counts()["failed"] == len(failed)
    out = capsys.readouterr().out
    assert out.count(" -> failed: RuntimeError: diverged at ") == len(failed)
    summary = f"Search done: 12 trials: {12 - len(failed)} completed, {len(failed)} failed."
    assert out.splitlines()[-1] == summary
    trajectory = results.incumbent_trajectory()
    assert not np.isnan(trajectory[-1]) and trajectory[-1] == results.best().error


def test_failed_trials_do_not_reach_the_searcher():
    class Recording(RandomSearcher):
        seen: list = []

        def update(self, config, error, additional_info=None):
            self.seen.append(error)

    searcher = Recording(SPACE, seed=0)
    results = run_search(flaky, searcher, 12, progress=False)
    assert searcher.seen == [t.error for t in results.trials if not t.failed]


@pytest.mark.parametrize(
    "value, why",
    [
        (None, "returned None, not a number"),
        ("0.2", "returned '0.2', not a number"),
        (True, "returned True, not a number"),
        (math.nan, "returned nan, not a finite number >= 0"),
        (math.inf, "returned inf, not a finite number >= 0"),
        (-0.1, "returned -0.1, not a finite number >= 0"),
        (torch.tensor([0.1, 0.2]), "returned 2 numbers instead of one"),
        (np.zeros(3), "returned 3 numbers instead of one"),
    ],
)
def test_a_bad_result_fails_its_trial_naming_trial_and_value(value, why):
    results = run_search(lambda config: value, RandomSearcher(SPACE), 2, progress=False)
    assert [t.status for t in results.trials] == ["failed", "failed"]
    assert results.trials[1].message == f"ValueError: trial 1 {why}"
    with pytest.raises(ValueError, match=f"no trial has completed.*trial 0 {why[:20]}"):
        results.best()


@pytest.mark.parametrize(
    "value", [0.25, 0, np.float32(0.25), torch.tensor(0.25), torch.tensor([0.25]), np.array(0.25)]
)
def test_one_number_in_any_form_is_a_result(value):
    results = run_search(lambda config: value, RandomSearcher(SPACE), 1, progress=False)
    assert results.trials[0].status == "completed"
    assert results.trials[0].error == float(value) and type(results.trials[0].error) is float


def test_ctrl_c_keeps_the_finished_trials(capsys):
    def interrupted_at_trial_3(config):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(config)
        return quadratic(config)

    calls = []
    held = SearchResults()
    returned = run_search(interrupted_at_trial_3, RandomSearcher(SPACE), 10, results=held)
    assert returned is held and held.interrupted
    assert [t.trial_id for t in held.trials] == [0, 1, 2]
    assert [t.config for t in held.trials] == calls
    out = capsys.readouterr().out
    assert "Interrupted: the trial under way is dropped, the finished ones are kept." in out
    assert out.splitlines()[-1] == "Search done: 3 trials: 3 completed, 0 failed (interrupted)."


def test_results_given_are_extended_with_trial_ids_after_theirs():
    results = random_search(quadratic, SPACE, 2, seed=0, progress=False)
    run_search(quadratic, RandomSearcher(SPACE, seed=1), 3, results=results, progress=False)
    assert [t.trial_id for t in results.trials] == [0, 1, 2, 3, 4]


def test_a_trial_is_kept_even_when_the_searcher_fails_to_learn_from_it():
    class Broken(RandomSearcher):
        def update(self, config, error, additional_info=None):
            raise RuntimeError("a bug in the searcher")

    held = SearchResults()
    with pytest.raises(RuntimeError, match="a bug in the searcher"):
        run_search(quadratic, Broken(SPACE), 3, results=held, progress=False)
    assert len(held) == 1 and held.trials[0].status == "completed"


def test_a_search_resumed_after_ctrl_c_is_no_longer_marked_interrupted():
    def interrupted_once(config):
        if not calls:
            calls.append(config)
            raise KeyboardInterrupt
        return quadratic(config)

    calls = []
    held = run_search(interrupted_once, RandomSearcher(SPACE), 3, progress=False)
    assert held.interrupted and len(held) == 0
    run_search(interrupted_once, RandomSearcher(SPACE, seed=1), 3, results=held, progress=False)
    assert not held.interrupted and len(held) == 3
