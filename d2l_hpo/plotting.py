"""Figures for HPO: search results against a hyperparameter; samples on a log axis.

Each function draws into a new figure and returns it. In a notebook, figures are
shown as PNG at twice the resolution ("retina"), so that they stay sharp on phones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from d2l_hpo.search import SearchResults

#: Where a trial's label may go, in points from its marker, in order of preference.
LABEL_OFFSETS = (
    *((8, 6), (8, -14), (-14, 6), (-14, -14), (8, 16), (8, -24), (-34, -4)),
    *((12, -34), (20, -4), (-40, -18), (12, 26), (-40, 10)),
)
#: Half the width of the space a marker takes, in points (the star is the largest).
MARKER_RADIUS = 7


def words(name: str, log_scale: bool = False) -> str:
    """An axis label from a hyperparameter name: learning_rate -> learning rate."""
    return name.replace("_", " ") + (" (log scale)" if log_scale else "")


def label_points(ax: Axes, xs, ys, labels) -> None:
    """Write a label by each point, inside the axes, where it covers no other label
    or point (or, failing that, where it covers the fewest)."""
    ax.figure.canvas.draw()  # settle the layout, so that positions are final
    renderer = ax.figure.canvas.get_renderer()
    pixels = ax.transData.transform(np.column_stack([xs, ys]))
    r = MARKER_RADIUS * ax.figure.dpi / 72  # in pixels
    taken = [(x - r, y - r, x + r, y + r) for x, y in pixels]
    frame = ax.get_window_extent(renderer)
    for x_data, y_data, label in zip(xs, ys, labels, strict=True):
        text = ax.annotate(
            label, (x_data, y_data), (0, 0), textcoords="offset points", fontsize=9
        )
        candidates = []
        for offset in LABEL_OFFSETS:
            text.xyann = offset
            box = text.get_window_extent(renderer).extents  # exactly where it lands
            inside = frame.x0 <= box[0] and box[2] <= frame.x1
            inside = inside and frame.y0 <= box[1] and box[3] <= frame.y1
            covered = sum(_overlap(box, other) for other in taken)
            candidates.append((covered + 10 * (not inside), offset, tuple(box)))
        _, text.xyann, box = min(candidates, key=lambda candidate: candidate[0])
        taken.append(box)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def plot_search(
    results: SearchResults, hyperparameter: str, log_scale: bool = True
) -> Figure:
    """Left: each trial's error against `hyperparameter`. Right: the incumbent."""
    frame = results.to_dataframe()
    best = results.best()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
    left.scatter(frame[hyperparameter], frame["error"], label="trial")
    best_x = [best.config[hyperparameter]]
    left.scatter(
        best_x, [best.error], marker="*", s=200, color="C3", label="best trial"
    )
    if log_scale:
        left.set_xscale("log")
    left.set_xlabel(words(hyperparameter, log_scale))
    left.set_ylabel("validation error")
    trials = np.arange(len(frame))
    right.plot(trials, frame["error"], "o", label="trial")
    incumbent = results.incumbent_trajectory()
    right.step(
        trials, incumbent, where="post", color="C3", label="incumbent (best so far)"
    )
    right.set_xticks(trials)
    right.set_xlabel("trial number")
    right.set_ylabel("validation error")
    for ax in (left, right):  # below the plots, where they hide no point
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, frameon=False
        )
    labels = [f"trial {i}" for i in frame.index]
    xs, ys = frame[hyperparameter].to_numpy(), frame["error"].to_numpy()
    label_points(left, xs, ys, labels)
    return fig


def plot_log_samples(dist: Any, num_samples: int = 10_000, seed: int = 0) -> Figure:
    """Histogram of samples of `dist` with log-spaced bins: flat if log-uniform."""
    samples = np.asarray(dist.rvs(size=num_samples, random_state=seed), dtype=float)
    low, high = samples.min(), samples.max()
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.hist(samples, bins=np.geomspace(low, high, 21), edgecolor="white")
    ax.set_xscale("log")
    ax.set_xlabel("sampled value (log scale)")
    ax.set_ylabel("number of samples")
    return fig


def _sharp_figures_in_notebooks() -> None:
    """Show inline figures as PNG at twice the resolution, in IPython only."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing to set
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


_sharp_figures_in_notebooks()
