"""Figures for HPO: searches, any-time performance, learning curves, rungs, and
the timelines of simulated workers.

Each function draws into a new figure and returns it. In a notebook, figures are
shown as PNG at twice the resolution ("retina"), so that they stay sharp on phones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from d2l_hpo.simulation import Job, Simulation
from d2l_hpo.tuner import SearchResults

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


def plot_incumbent(results: SearchResults, label: str = "random search") -> Figure:
    """Any-time performance of one search: the best error so far against time."""
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    times = np.append(0, results.cumulative_runtime())
    best = np.append(np.nan, results.incumbent_trajectory())
    ax.step(times, best, where="post", color="C3", label=label)
    ax.plot(
        times[1:],
        [t.error for t in results.trials],
        "o",
        color="C0",
        label="trial (error when it ended)",
    )
    ax.set_xlabel("wall-clock time (seconds)")
    ax.set_ylabel("validation error")
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False
    )
    return fig


def anytime_statistics(
    runs: Sequence[SearchResults], times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over `runs` of the best error found by each time."""
    found = np.array([run.incumbent_at(times) for run in runs])
    mean = found.mean(axis=0)
    stderr = found.std(axis=0, ddof=1) / np.sqrt(len(runs))
    return mean, stderr


def plot_anytime(
    runs: Mapping[str, Sequence[SearchResults]],
    times: np.ndarray,
    xlabel: str = "simulated wall-clock time (seconds)",
) -> Figure:
    """Mean best error against time for each method, with a band of one standard
    error of the mean over its runs (seeds): a comparison of HPO algorithms."""
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    for color, (name, method_runs) in enumerate(runs.items()):
        mean, stderr = anytime_statistics(method_runs, times)
        label = f"{name} (mean of {len(method_runs)} runs)"
        ax.plot(times, mean, color=f"C{color}", label=label)
        ax.fill_between(
            times,
            mean - stderr,
            mean + stderr,
            color=f"C{color}",
            alpha=0.25,
            linewidth=0,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best validation error so far")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncols=2,
        frameon=False,
        title="shaded: plus or minus one standard error",
    )
    return fig


def config_curves(results: SearchResults) -> dict[int, dict[int, float]]:
    """Each configuration's learning curve, joined over its trials (rungs)."""
    curves: dict[int, dict[int, float]] = {}
    for trial in results.trials:
        curves.setdefault(trial.config_id, {}).update(trial.curve)
    return curves


def plot_learning_curves(
    curves: Mapping[Any, Mapping[int, float]],
    rung_levels: Sequence[int] = (),
    ylabel: str = "validation error",
) -> Figure:
    """Validation error against epochs, a line per configuration; with
    `rung_levels`, dashed lines mark where successive halving decides."""
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    for curve in curves.values():
        epochs = sorted(curve)
        ax.plot(epochs, [curve[e] for e in epochs], "-", marker=".", alpha=0.8)
    for i, level in enumerate(rung_levels):
        ax.axvline(level, color="gray", linestyle="--", linewidth=1)
        ax.annotate(
            f"rung {i}: {level} epochs",
            (level, 1),
            xycoords=("data", "axes fraction"),
            xytext=(-3, -3),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="top",
            fontsize=8,
            color="gray",
        )
    ax.set_xlabel("epochs")
    ax.set_ylabel(ylabel)
    return fig


def plot_rungs(
    all_observed_error_at_rungs: Mapping[int, Sequence[tuple]],
) -> Figure:
    """Every error observed at each rung level (the chapter's scatter)."""
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    levels = sorted(all_observed_error_at_rungs)
    for level in levels:
        errors = [error for _, error in all_observed_error_at_rungs[level]]
        ax.scatter([level] * len(errors), errors, alpha=0.7)
    ax.set_xticks(levels)
    ax.set_xlim(levels[0] - 0.5, levels[-1] + 0.5)
    ax.set_xlabel("epochs (rung level)")
    ax.set_ylabel("validation error")
    return fig


#: The colours of the chapter's scheduling figures: a job, and a job whose result
#: was promoted to the next rung; bars are edged in dark grey.
TIMELINE_COLOR, PROMOTED_COLOR, EDGE_COLOR = "#b2d9ff", "#66bfff", "#404040"
#: How high a bar is, as a fraction of a worker's row.
BAR_HEIGHT = 0.6


def _legend_handles(jobs: Sequence[Job]) -> list:
    """The kinds of bar present, explained in words (none if only one kind)."""
    from matplotlib.patches import Patch

    promoted = any(job.promoted for job in jobs)
    handles = [
        Patch(
            facecolor=TIMELINE_COLOR,
            edgecolor=EDGE_COLOR,
            label="not promoted" if promoted else "training",
        )
    ]
    if promoted:
        handles.append(
            Patch(
                facecolor=PROMOTED_COLOR,
                edgecolor=EDGE_COLOR,
                label="promoted to the next rung",
            )
        )
    if any(job.stopped for job in jobs):
        handles.append(
            Patch(
                facecolor=TIMELINE_COLOR,
                edgecolor=EDGE_COLOR,
                hatch="///",
                label="stopped after this rung",
            )
        )
    return handles if len(handles) > 1 else []


def _draw_timeline(ax: Axes, simulation: Simulation) -> None:
    """A row per worker, worker 0 on top, a bar per job; idle time stays white."""
    n = simulation.num_workers
    for job in simulation.jobs:
        ax.barh(
            n - 1 - job.worker,
            job.seconds,
            left=job.start,
            height=BAR_HEIGHT,
            color=PROMOTED_COLOR if job.promoted else TIMELINE_COLOR,
            edgecolor=EDGE_COLOR,
            linewidth=0.8,
            hatch="///" if job.stopped else None,
        )
    ax.set_yticks(range(n), [f"Worker-{w}" for w in reversed(range(n))])
    ax.set_ylim(-0.5, n - 0.5)
    ax.tick_params(axis="y", length=0)


def _label_jobs(ax: Axes, simulation: Simulation, label: str) -> None:
    """Write each job's `label` inside its bar where it fits, else its trial
    number where that fits, else nothing (the figure must be drawn already)."""
    renderer = ax.figure.canvas.get_renderer()
    margin = 6 * ax.figure.dpi / 72  # 3 points either side, in pixels
    n = simulation.num_workers
    for job in simulation.jobs:
        (x0, _), (x1, _) = ax.transData.transform([(job.start, 0), (job.end, 0)])
        y = n - 1 - job.worker
        # On a hatched bar, the text gets a plain background, to stay legible.
        box = {"boxstyle": "square,pad=0.3", "facecolor": TIMELINE_COLOR, "lw": 0}
        for text in (label.format(**dataclasses.asdict(job)), str(job.trial)):
            artist = ax.text(
                (job.start + job.end) / 2, y, text, ha="center", va="center",
                fontsize=8, clip_on=True, bbox=box if job.stopped else None,
            )  # fmt: skip
            artist.set_in_layout(False)
            if artist.get_window_extent(renderer).width + margin <= x1 - x0:
                break
            artist.remove()


def plot_timeline(
    simulation: Simulation,
    ax: Axes | None = None,
    title: str | None = None,
    label: str = "Trial-{trial}",
    xlabel: str = "simulated time (seconds)",
) -> Figure:
    """Which worker trained which trial when: a bar per job, idle time white.

    `label` is formatted with the fields of each `Job` (``trial``, ``config_id``,
    ``start_epoch``, ``end_epoch``, ...). Jobs whose result was promoted are
    darker, jobs after which a trial was stopped hatched.
    """
    if ax is None:
        height = 1.3 + 0.4 * simulation.num_workers
        _, ax = plt.subplots(figsize=(6.5, height), layout="constrained")
    _draw_timeline(ax, simulation)
    ax.set_xlim(0, 1.02 * simulation.makespan)
    ax.set_xlabel(xlabel)
    if title is not None:
        ax.set_title(title, loc="left", fontsize=10)
    handles = _legend_handles(simulation.jobs)
    if handles:
        ax.legend(
            handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.35),
            ncols=len(handles), frameon=False, fontsize=9,
        )  # fmt: skip
    ax.figure.canvas.draw()  # settle the layout, so that bar widths are final
    _label_jobs(ax, simulation, label)
    return ax.figure


def plot_timelines(
    simulations: Mapping[str, Simulation], label: str = "Trial-{trial}"
) -> Figure:
    """Several timelines stacked on one time axis, each titled by its key: e.g.
    sequential, synchronous and asynchronous scheduling (Fig. 19.3.1)."""
    rows = [simulation.num_workers for simulation in simulations.values()]
    fig, axes = plt.subplots(
        len(rows), 1, sharex=True, layout="constrained",
        figsize=(6.5, 0.9 + sum(0.4 * n + 0.45 for n in rows)),
        height_ratios=rows, squeeze=False,
    )  # fmt: skip
    axes = axes[:, 0]
    makespan = max(simulation.makespan for simulation in simulations.values())
    for ax, (name, simulation) in zip(axes, simulations.items(), strict=True):
        _draw_timeline(ax, simulation)
        ax.set_title(name, loc="left", fontsize=10)
    axes[-1].set_xlim(0, 1.02 * makespan)
    axes[-1].set_xlabel("simulated time (seconds)")
    jobs = [job for simulation in simulations.values() for job in simulation.jobs]
    handles = _legend_handles(jobs)
    if handles:
        fig.legend(
            handles=handles, loc="outside lower center", ncols=len(handles),
            frameon=False, fontsize=9,
        )  # fmt: skip
    fig.canvas.draw()
    for ax, simulation in zip(axes, simulations.values(), strict=True):
        _label_jobs(ax, simulation, label)
    return fig


def plot_curves_over_time(reports, budget: float | None = None) -> Figure:
    """Learning curves of a parallel search against wall-clock time: a line per
    trial (a `reports_frame`), coloured by trial number so that no two share a
    colour by accident; a dashed line marks the end of the budget."""
    fig, ax = plt.subplots(figsize=(6.5, 3), layout="constrained")
    trials = sorted(reports["trial"].unique())
    cmap = plt.get_cmap("viridis")
    norm = plt.Normalize(0, max(max(trials, default=0) / 0.9, 1))  # no yellow
    for trial in trials:
        rows = reports[reports["trial"] == trial].sort_values("epoch")
        ax.plot(
            rows["time"],
            rows["validation_error"],
            "o-",
            ms=3,
            color=cmap(norm(trial)),
        )
    if budget is not None:
        ax.axvline(budget, color="grey", ls="--", lw=1)
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    fig.colorbar(mappable, ax=ax, label="trial number", pad=0.01)
    ax.set_xlabel("wall-clock time (seconds)")
    ax.set_ylabel("validation error")
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
