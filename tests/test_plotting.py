"""Figures: labelled in words, with no label or legend over another label or a point."""

import itertools

import matplotlib
import numpy as np
from scipy import stats

from d2l_hpo.plotting import (
    anytime_statistics,
    config_curves,
    plot_anytime,
    plot_learning_curves,
    plot_log_samples,
    plot_rungs,
    plot_search,
)
from d2l_hpo.tuner import SearchResults, Trial

matplotlib.use("Agg")

# Trials 0 and 4 lie almost on top of each other, as in section 19.1's search.
TRIALS = [
    Trial(0, {"learning_rate": 0.0002201}, 0.2540, 1.0),
    Trial(1, {"learning_rate": 0.0008856}, 0.1998, 1.0),
    Trial(2, {"learning_rate": 0.1604}, 0.1670, 1.0),
    Trial(3, {"learning_rate": 0.02131}, 0.1584, 1.0),
    Trial(4, {"learning_rate": 0.000238}, 0.2530, 1.0),
]


def overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_search_plot_is_labelled_in_words():
    fig = plot_search(SearchResults(TRIALS), "learning_rate")
    left, right = fig.axes
    assert left.get_xlabel() == "learning rate (log scale)"
    assert right.get_xlabel() == "trial number"
    assert left.get_ylabel() == right.get_ylabel() == "validation error"
    assert sorted(t.get_text() for t in left.texts) == [f"trial {i}" for i in range(5)]


def test_no_label_covers_another_label_or_a_point_and_legends_cover_nothing():
    fig = plot_search(SearchResults(TRIALS), "learning_rate")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left, right = fig.axes
    labels = [t.get_window_extent(renderer) for t in left.texts]
    for a, b in itertools.combinations(labels, 2):
        assert not overlap(a, b), (a, b)
    xy = np.array([[t.config["learning_rate"], t.error] for t in TRIALS])
    r = 7 * fig.dpi / 72  # the star of the best trial is 14 points wide
    for x, y in left.transData.transform(xy):
        point = matplotlib.transforms.Bbox([[x - r, y - r], [x + r, y + r]])
        assert not any(overlap(point, label) for label in labels)
    frame = left.get_window_extent(renderer)
    for label in labels:  # inside the axes, where no frame line strikes through
        assert frame.x0 <= label.x0 and label.x1 <= frame.x1
        assert frame.y0 <= label.y0 and label.y1 <= frame.y1
    for ax in (left, right):
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.y1 < ax.get_window_extent(renderer).y0  # below the plot


def test_log_samples_histogram_is_labelled_in_words():
    fig = plot_log_samples(stats.loguniform(1e-4, 1), num_samples=1000)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "sampled value (log scale)"
    assert ax.get_ylabel() == "number of samples"
    assert ax.get_xscale() == "log"


def test_anytime_statistics_are_the_mean_and_standard_error_of_the_incumbents():
    runs = [
        SearchResults([Trial(0, {}, 0.5, 10.0), Trial(1, {}, 0.3, 10.0)]),
        SearchResults([Trial(0, {}, 0.4, 5.0), Trial(1, {}, 0.6, 30.0)]),
    ]
    mean, stderr = anytime_statistics(runs, np.array([6.0, 12.0, 40.0]))
    assert np.isnan(mean[0])  # the first run has no result yet at 6 s
    np.testing.assert_allclose(mean[1:], [0.45, 0.35])
    np.testing.assert_allclose(stderr[1:], [np.std([0.5, 0.4], ddof=1) / np.sqrt(2),
                                            np.std([0.3, 0.4], ddof=1) / np.sqrt(2)])  # fmt: skip
    fig = plot_anytime({"a": runs, "b": runs}, np.array([6.0, 12.0, 40.0]))
    assert [line.get_label() for line in fig.axes[0].lines] == [
        "a (mean of 2 runs)", "b (mean of 2 runs)"
    ]  # fmt: skip


def test_learning_curves_join_a_configurations_rungs():
    trials = [
        Trial(0, {"x": 1, "max_epochs": 2}, 0.5, 1.0, curve=((1, 0.7), (2, 0.5)), config_id=0),
        Trial(1, {"x": 2, "max_epochs": 2}, 0.6, 1.0, curve=((1, 0.8), (2, 0.6)), config_id=1),
        Trial(2, {"x": 1, "max_epochs": 4}, 0.3, 1.0, curve=((3, 0.4), (4, 0.3)), config_id=0),
    ]
    curves = config_curves(SearchResults(trials))
    assert curves == {0: {1: 0.7, 2: 0.5, 3: 0.4, 4: 0.3}, 1: {1: 0.8, 2: 0.6}}
    fig = plot_learning_curves(curves, rung_levels=[2, 4])
    ax = fig.axes[0]
    assert [list(line.get_xdata()) for line in ax.lines[:2]] == [[1, 2, 3, 4], [1, 2]]
    assert [t.get_text() for t in ax.texts] == ["rung 0: 2 epochs", "rung 1: 4 epochs"]
    rungs = plot_rungs({2: [({}, 0.5), ({}, 0.6)], 4: [({}, 0.3)]})
    assert list(rungs.axes[0].get_xticks()) == [2, 4]
    assert [len(c.get_offsets()) for c in rungs.axes[0].collections] == [2, 1]
