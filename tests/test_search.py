"""Searchers, the trial loop and its results."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from d2l_hpo.search import (
    GridSearcher,
    RandomSearcher,
    SearchResults,
    Trial,
    equispaced_grid,
    grid_search,
    random_search,
    run_search,
    trial_seed,
)
from d2l_hpo.space import Categorical, IntLogUniform

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

    results = run_search(draw, RandomSearcher(SPACE, 0), 3, seed=5, progress=False)
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
    assert list(frame.columns) == ["learning_rate", "batch_size", "activation", "error", "runtime"]
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
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"Trial {i}: learning_rate = ") for i, line in enumerate(lines))
    assert all(" -> validation error " in line for line in lines)


def test_bad_search_arguments():
    with pytest.raises(ValueError, match="num_trials"):
        random_search(quadratic, SPACE, num_trials=0)
    with pytest.raises(ValueError, match="never runs out"):
        run_search(quadratic, RandomSearcher(SPACE), num_trials=None)
    with pytest.raises(ValueError, match="'batch_size'"):
        random_search(quadratic, {**SPACE, "batch_size": IntLogUniform(256, 8)}, 3)
