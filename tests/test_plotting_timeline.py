"""Timelines of simulated workers: a bar per job, a row per worker, labels inside bars."""

import matplotlib
from matplotlib import pyplot as plt
from matplotlib.colors import to_hex

from d2l_hpo.curves import LearningCurves
from d2l_hpo.plotting import plot_timeline, plot_timelines
from d2l_hpo.simulation import (
    asha,
    asynchronous,
    sequential,
    synchronous,
    synchronous_successive_halving,
)

matplotlib.use("Agg")

CURVES = LearningCurves.load()


def bars(ax):
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]


def test_a_timeline_draws_a_bar_per_job_with_worker_0_on_top():
    run = synchronous_successive_halving(CURVES, range(8), num_workers=2)
    fig = plot_timeline(run, title="synchronous successive halving")
    (ax,) = fig.axes
    assert len(bars(ax)) == len(run.jobs) == 15
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Worker-1", "Worker-0"]
    assert ax.get_xlabel() == "simulated time (seconds)"
    assert ax.get_title(loc="left") == "synchronous successive halving"
    for bar, job in zip(bars(ax), run.jobs, strict=True):
        assert bar.get_x() == job.start and bar.get_width() == job.seconds
        assert bar.get_y() + bar.get_height() / 2 == 1 - job.worker  # worker 0 above
        assert to_hex(bar.get_facecolor()) == ("#66bfff" if job.promoted else "#b2d9ff")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["not promoted", "promoted to the next rung"]
    plt.close(fig)


def test_labels_sit_inside_their_bars():
    run = asha(CURVES, range(8), 2, variant="stopping")
    fig = plot_timeline(run)
    (ax,) = fig.axes
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = {t.get_position(): t for t in ax.texts}
    assert len(texts) >= len(run.jobs) // 2  # most bars are wide enough
    for bar, job in zip(bars(ax), run.jobs, strict=True):
        text = texts.get(((job.start + job.end) / 2, 1 - job.worker))
        if text is None:
            continue
        assert text.get_text() in (f"Trial-{job.trial}", str(job.trial))
        box, outline = text.get_window_extent(renderer), bar.get_window_extent(renderer)
        assert outline.x0 < box.x0 and box.x1 < outline.x1
        assert outline.y0 < box.y0 and box.y1 < outline.y1
    assert any(bar.get_hatch() for bar in bars(ax))  # the stopped trials' last rungs
    assert "stopped after this rung" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)


def test_timelines_stack_on_one_time_axis():
    ids = range(6)
    runs = {
        "sequential (1 worker)": sequential(CURVES, ids),
        "synchronous (2 workers)": synchronous(CURVES, ids, 2),
        "asynchronous (2 workers)": asynchronous(CURVES, ids, 2),
    }
    fig = plot_timelines(runs)
    assert [ax.get_title(loc="left") for ax in fig.axes] == list(runs)
    assert [len(bars(ax)) for ax in fig.axes] == [6, 6, 6]
    assert [len(ax.get_yticklabels()) for ax in fig.axes] == [1, 2, 2]
    assert len({ax.get_xlim() for ax in fig.axes}) == 1
    assert fig.axes[0].get_xlim()[1] >= runs["sequential (1 worker)"].makespan
    # Six trials on 6.5 inches: every bar is wide enough for its full label.
    assert [t.get_text() for t in fig.axes[0].texts] == [f"Trial-{i}" for i in range(6)]
    assert not fig.legends  # a single kind of bar needs no legend
    assert fig.get_figwidth() == 6.5
    plt.close(fig)


def test_a_timeline_draws_into_given_axes():
    fig, ax = plt.subplots()
    run = asynchronous(CURVES, range(4), 3)
    assert plot_timeline(run, ax=ax, label="config {config_id}") is fig
    assert sorted(t.get_text() for t in ax.texts) == [f"config {i}" for i in range(4)]
    plt.close(fig)
