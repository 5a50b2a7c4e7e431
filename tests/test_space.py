"""Distributions of the configuration space."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from d2l_hpo.space import (
    Categorical,
    IntLogUniform,
    IntUniform,
    check_config_space,
    grid_values,
    is_log_scale,
    mlp_config_space,
    sample_config,
)

N = 20_000


@pytest.mark.parametrize(
    "dist",
    [IntLogUniform(8, 256), IntLogUniform(32, 1024), IntUniform(1, 6), IntUniform(-3, 3),
     stats.loguniform(1e-6, 1e-1), stats.uniform(0, 0.99)],
)  # fmt: skip
def test_samples_stay_in_bounds(dist):
    samples = np.asarray(dist.rvs(size=N, random_state=0))
    low, high = (dist.low, dist.high) if hasattr(dist, "low") else dist.support()
    assert samples.min() >= low and samples.max() <= high
    if isinstance(dist, IntUniform):
        assert samples.dtype.kind == "i"
        assert samples.min() == low and samples.max() == high  # both ends reachable
        assert isinstance(dist.rvs(random_state=1), int)


def test_int_log_uniform_is_uniform_in_log_space():
    dist = IntLogUniform(8, 256)
    samples = dist.rvs(size=N, random_state=42)
    # Octaves [8, 16), [16, 32), ... have equal log-width, so nearly equal mass;
    # compare the counts with the exact probabilities by a chi-square test.
    edges = [8, 16, 32, 64, 128, 257]
    observed = np.histogram(samples, bins=edges)[0]
    pmf = dist.pmf(np.arange(8, 257))
    assert math.isclose(pmf.sum(), 1.0)
    expected = [N * pmf[lo - 8 : hi - 8].sum() for lo, hi in itertools.pairwise(edges)]
    assert stats.chisquare(observed, expected).pvalue > 0.01
    # ... and clearly not uniform on the linear scale: [8, 132) would hold half.
    assert np.mean(samples < 132) > 0.75


def test_every_integer_has_its_log_width():
    dist = IntLogUniform(1, 4)
    counts = np.bincount(dist.rvs(size=N, random_state=7), minlength=5)[1:]
    expected = N * dist.pmf([1, 2, 3, 4])
    assert np.allclose(expected / N, np.diff(np.log([0.5, 1.5, 2.5, 3.5, 4.5])) / math.log(9))
    assert stats.chisquare(counts, expected).pvalue > 0.01


def test_scipy_loguniform_is_uniform_between_minus_4_and_0_in_log10_space():
    samples = stats.loguniform(1e-4, 1).rvs(size=N, random_state=0)
    assert stats.kstest(np.log10(samples), stats.uniform(-4, 4).cdf).pvalue > 0.01


def test_int_uniform_is_uniform():
    counts = np.bincount(IntUniform(1, 6).rvs(size=N, random_state=3))[1:]
    assert stats.chisquare(counts).pvalue > 0.01


def test_categorical_returns_only_its_choices_equally_often():
    dist = Categorical(["tanh", "relu"])
    samples = dist.rvs(size=N, random_state=0)
    assert set(samples) == {"tanh", "relu"}
    assert stats.chisquare([samples.count("tanh"), samples.count("relu")]).pvalue > 0.01
    assert dist.rvs(random_state=0) in ("tanh", "relu")
    single = Categorical(["relu"])  # one choice is a valid, if dull, space
    check_config_space({"activation": single})
    assert single.rvs(size=3, random_state=0) == ["relu"] * 3


@pytest.mark.parametrize(
    ("dist", "message"),
    [(IntLogUniform(256, 8), "low < high"), (IntUniform(3, 3), "low < high"),
     (IntLogUniform(0, 8), "low > 0"), (IntUniform(1.5, 3), "integers"),
     (Categorical([]), "at least one choice"), (Categorical("relu"), "must be a list"),
     (stats.loguniform(1, 1e-4), "low < high"),
     (stats.uniform(0, 0), "low < high"), (stats.norm(), "finite bounds"),
     ([1, 2, 3], "not a distribution"),
     (IntLogUniform(1, 10**30), "within"), (IntUniform(0, 2**64), "within"),
     (IntUniform(-(2**63), 0), "within"), (Categorical(None), "must be a list"),
     (Categorical(3), "must be a list")],
)  # fmt: skip
def test_empty_or_inverted_ranges_name_the_hyperparameter(dist, message):
    with pytest.raises(ValueError, match=f"'batch_size'.*{message}"):
        check_config_space({"learning_rate": stats.loguniform(1e-4, 1), "batch_size": dist})


def test_the_widest_integer_ranges_allowed_sample_within_their_bounds():
    for dist in (IntLogUniform(1, 2**53), IntUniform(-(2**53), 2**53)):
        samples = dist.rvs(size=10_000, random_state=0)
        assert samples.min() >= dist.low and samples.max() <= dist.high
    assert IntLogUniform(1, 2**53).rvs(size=10_000, random_state=0).max() > 2**50


def test_an_empty_space_is_an_error():
    with pytest.raises(ValueError, match="no hyperparameters"):
        check_config_space({})


def test_mlp_table_space_samples_one_value_each():
    space = mlp_config_space()
    check_config_space(space)
    config = sample_config(space, np.random.default_rng(0))
    assert list(config) == [
        "learning_rate", "batch_size", "momentum", "activation", "num_units", "num_layers",
    ]  # fmt: skip
    assert 1e-6 <= config["learning_rate"] <= 1e-1 and type(config["learning_rate"]) is float
    assert 8 <= config["batch_size"] <= 256 and type(config["batch_size"]) is int
    assert 0 <= config["momentum"] <= 0.99
    assert config["activation"] in ("tanh", "relu")
    assert 32 <= config["num_units"] <= 1024 and 1 <= config["num_layers"] <= 6
    assert [is_log_scale(space[k]) for k in space] == [True, True, False, False, True, False]


def test_grid_values_are_equispaced_on_the_scale():
    assert np.allclose(grid_values(stats.loguniform(1e-4, 1), 5), [1e-4, 1e-3, 1e-2, 1e-1, 1])
    assert np.allclose(grid_values(stats.uniform(0, 0.99), 4), [0, 0.33, 0.66, 0.99])
    assert grid_values(IntLogUniform(8, 256), 6) == [8, 16, 32, 64, 128, 256]
    assert grid_values(IntUniform(1, 6), 3) == [1, 4, 6]  # 3.5 rounds to even
    assert grid_values(IntUniform(1, 3), 10) == [1, 2, 3]  # no repeated integers
    assert grid_values(Categorical(["tanh", "relu"]), 3) == ["tanh", "relu"]
    with pytest.raises(ValueError, match="at least one point"):
        grid_values(IntUniform(1, 3), 0)


def test_grids_of_one_point_take_the_middle_and_discrete_scipy_grids_are_integers():
    assert np.allclose(grid_values(stats.loguniform(1e-4, 1), 1), [1e-2])
    assert grid_values(stats.uniform(0, 1), 1) == [0.5]
    assert grid_values(IntLogUniform(8, 512), 1) == [64]
    assert grid_values(stats.randint(1, 7), 3) == [1, 4, 6]
    assert all(type(v) is int for v in grid_values(stats.randint(1, 7), 3))
