"""Figures for HPO: search results against a hyperparameter, and samples on a log axis.

Each function draws into a new figure and returns it; notebooks show it as PNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from d2l_hpo.search import SearchResults


def plot_search(results: SearchResults, hyperparameter: str, log_scale: bool = True) -> Figure:
    """Left: each trial's error against `hyperparameter`. Right: the incumbent."""
    frame = results.to_dataframe()
    best = results.best()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    left.scatter(frame[hyperparameter], frame["error"], label="trials")
    left.scatter(
        [best.config[hyperparameter]], [best.error], marker="*", s=200,
        color="C3", label="best",
    )  # fmt: skip
    for trial_id, row in frame.iterrows():
        left.annotate(str(trial_id), (row[hyperparameter], row["error"]),
                      textcoords="offset points", xytext=(4, 4))  # fmt: skip
    if log_scale:
        left.set_xscale("log")
    left.set_xlabel(hyperparameter)
    left.set_ylabel("validation error")
    left.legend()
    trials = np.arange(len(frame))
    right.plot(trials, frame["error"], "o", label="trial")
    right.step(trials, results.incumbent_trajectory(), where="post", color="C3",
               label="incumbent (best so far)")  # fmt: skip
    right.set_xticks(trials)
    right.set_xlabel("trial")
    right.set_ylabel("validation error")
    right.legend()
    return fig


def plot_log_samples(dist: Any, num_samples: int = 10_000, seed: int = 0) -> Figure:
    """Histogram of samples of `dist` with log-spaced bins: flat if log-uniform."""
    samples = np.asarray(dist.rvs(size=num_samples, random_state=seed), dtype=float)
    low, high = samples.min(), samples.max()
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.hist(samples, bins=np.geomspace(low, high, 21), edgecolor="white")
    ax.set_xscale("log")
    ax.set_xlabel("sampled value (log axis)")
    ax.set_ylabel("count")
    return fig
