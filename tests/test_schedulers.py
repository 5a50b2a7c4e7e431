"""Schedulers: the basic one, and successive halving with the chapter's bugs fixed."""

import math

import pytest
from scipy import stats

from d2l_hpo.schedulers import BasicScheduler, SuccessiveHalvingScheduler, rung_levels
from d2l_hpo.searchers import HPOSearcher, RandomSearcher
from d2l_hpo.tuner import HPOTuner

SPACE = {"x": stats.uniform(0, 1)}


def noisy_curve(x, max_epochs):
    """Error falls with epochs; configurations keep their order (lower x is better)."""
    return x + 1 / max_epochs


def run_sh(number_of_trials=15, **kwargs):
    settings = {"eta": 2, "r_min": 2, "r_max": 10} | kwargs
    scheduler = SuccessiveHalvingScheduler(RandomSearcher(SPACE, seed=4), **settings)
    tuner = HPOTuner(scheduler, noisy_curve, progress=False)
    tuner.run(number_of_trials)
    return scheduler, tuner


@pytest.mark.parametrize(
    ("r_min", "r_max", "eta", "levels"),
    [(2, 10, 2, [2, 4, 8, 10]), (1, 1000, 10, [1, 10, 100, 1000]),
     (1, 243, 3, [1, 3, 9, 27, 81, 243]), (1, 81, 3, [1, 3, 9, 27, 81])],
)  # fmt: skip
def test_rung_levels_are_exact_where_the_chapters_logarithms_round_down(r_min, r_max, eta, levels):
    assert rung_levels(r_min, r_max, eta) == levels
    assert SuccessiveHalvingScheduler(RandomSearcher(SPACE), eta, r_min, r_max).K == (
        len(levels) - 1
    )


def test_one_round_of_the_chapters_setting_runs_8_4_2_1_configurations():
    scheduler, tuner = run_sh(15)
    epochs = [t.config["max_epochs"] for t in tuner.results.trials]
    assert epochs == [2] * 8 + [4] * 4 + [8] * 2 + [10]
    assert {r: len(v) for r, v in scheduler.all_observed_error_at_rungs.items()} == {
        2: 8, 4: 4, 8: 2, 10: 1
    }  # fmt: skip
    assert sum(epochs) == 58  # from scratch; the chapter's cost of one round


def test_survivors_are_the_best_of_their_rung():
    scheduler, tuner = run_sh(15)
    rungs = scheduler.all_observed_error_at_rungs
    for lower, upper in [(2, 4), (4, 8), (8, 10)]:
        ranked = sorted(rungs[lower], key=lambda ce: ce[1])
        best = [c["x"] for c, _ in ranked[: len(rungs[upper])]]
        assert sorted(c["x"] for c, _ in rungs[upper]) == sorted(best)
    winner = min(c["x"] for c, _ in rungs[2])
    assert tuner.results.trials[-1].config == {"x": winner, "max_epochs": 10}


def test_a_second_round_starts_with_new_configurations():
    scheduler, tuner = run_sh(30)
    first = {t.config["x"] for t in tuner.results.trials[:15]}
    second = {t.config["x"] for t in tuner.results.trials[15:]}
    assert not first & second and len(second) == 8
    assert len(scheduler.all_observed_error_at_rungs[10]) == 2


def test_promotions_go_ahead_of_a_new_round():
    """The chapter prepends promotions but pops from the end: they came last."""
    scheduler = SuccessiveHalvingScheduler(RandomSearcher(SPACE, seed=1), 2, 2, 10)
    rung0 = [scheduler.suggest() for _ in range(8)]
    for config in rung0[:-1]:
        scheduler.update(config, config["x"])
    scheduler.suggest()  # a worker is free before the last result: a new round starts
    scheduler.update(rung0[-1], rung0[-1]["x"])
    promoted = scheduler.suggest()
    assert promoted["max_epochs"] == 4
    assert promoted["x"] == min(c["x"] for c in rung0)


def test_the_readers_initial_config_is_not_changed():
    initial_config = {"x": 0.5}
    searcher = RandomSearcher(SPACE, initial_config=initial_config)
    scheduler = SuccessiveHalvingScheduler(searcher, 2, 2, 10)
    assert scheduler.suggest() == {"x": 0.5, "max_epochs": 2}
    assert initial_config == {"x": 0.5}


def test_a_failed_trial_ranks_last_and_the_round_goes_on():
    def fails_for_the_best(x, max_epochs):
        if x == best_x:
            raise RuntimeError("out of memory")
        return noisy_curve(x, max_epochs)

    probe = RandomSearcher(SPACE, seed=4)
    best_x = min(probe.sample_configuration()["x"] for _ in range(8))
    scheduler = SuccessiveHalvingScheduler(RandomSearcher(SPACE, seed=4), 2, 2, 10)
    tuner = HPOTuner(scheduler, fails_for_the_best, progress=False)
    tuner.run(15)
    assert len(tuner.results.failed) == 1
    assert best_x not in [c["x"] for c, _ in scheduler.all_observed_error_at_rungs[4]]
    assert len(tuner.results) == 15


def test_basic_scheduler_passes_results_and_info_to_the_searcher():
    seen = []

    class Recording(RandomSearcher):
        def update(self, config, error, additional_info=None):
            seen.append((config, error, additional_info))

    tuner = HPOTuner(BasicScheduler(Recording(SPACE)), lambda x: x, progress=False)
    tuner.run(3)
    assert [(c, e) for c, e, _ in seen] == [(t.config, t.error) for t in tuner.results.trials]
    assert [info for _, _, info in seen] == tuner.results.trials  # the chapter passed None


def test_the_searchers_base_class_says_what_is_missing():
    """The chapter's sample_configuration had no self: a TypeError, not this."""
    with pytest.raises(NotImplementedError):
        HPOSearcher().sample_configuration()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"eta": 1}, "eta must be an integer >= 2"), ({"r_min": 0}, "r_min must be a positive"),
     ({"r_max": 2}, "r_max must be an integer >= 3"), ({"prefact": 0}, "prefact must be")],
)  # fmt: skip
def test_bad_settings_are_refused(kwargs, message):
    settings = {"eta": 2, "r_min": 2, "r_max": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        SuccessiveHalvingScheduler(RandomSearcher(SPACE), **settings)


def test_prefact_multiplies_every_rung():
    scheduler, tuner = run_sh(30, prefact=2)
    counts = {r: len(v) for r, v in scheduler.all_observed_error_at_rungs.items()}
    assert counts == {2: 16, 4: 8, 8: 4, 10: 2}
    assert not math.isnan(tuner.results.best().error)
