"""Studies that worker processes share: settings, samplers, storages, frames."""

import json
import math

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState
from scipy import stats

from d2l_hpo.curves import LearningCurves
from d2l_hpo.searchers import RandomSearcher
from d2l_hpo.space import (
    Categorical,
    IntLogUniform,
    lenet_config_space,
    mlp_config_space,
    space_from_json,
    space_to_json,
)
from d2l_hpo.studies import (
    SETTINGS_KEY,
    TrialOrderSampler,
    config_id,
    create_study,
    load_study,
    optuna_distribution,
    redact,
    reports_frame,
    trials_frame,
)
from d2l_hpo.worker import make_objective, run_worker

INITIAL = {"learning_rate": 0.1, "batch_size": 128}


def test_spaces_survive_json_and_draw_the_same_values():
    for space in (lenet_config_space(), mlp_config_space()):
        again = space_from_json(json.loads(json.dumps(space_to_json(space))))
        a, b = RandomSearcher(space, seed=3), RandomSearcher(again, seed=3)
        assert [a.sample_configuration() for _ in range(20)] == [
            b.sample_configuration() for _ in range(20)
        ]

    class Odd(Categorical):  # a reader's own distribution: no JSON form
        pass

    with pytest.raises(ValueError, match="'odd'.*cannot be written as JSON"):
        space_to_json({"odd": Odd([1, 2]), **lenet_config_space()})


def test_optuna_distributions_have_the_same_ranges():
    assert optuna_distribution(stats.loguniform(1e-2, 1)) == FloatDistribution(0.01, 1.0, log=True)
    # scipy's randint(32, 256) excludes 256
    assert optuna_distribution(stats.randint(32, 256)) == IntDistribution(32, 255)
    assert optuna_distribution(stats.uniform(0, 0.99)) == FloatDistribution(0, 0.99)
    assert optuna_distribution(IntLogUniform(8, 256)) == IntDistribution(8, 256, log=True)
    assert optuna_distribution(Categorical(["a", "b"])).choices == ("a", "b")


def test_trial_order_sampler_gives_the_tables_configurations():
    sampler = TrialOrderSampler(lenet_config_space(), INITIAL, seed=0)
    curves = LearningCurves.load()
    for n in range(len(curves)):
        assert sampler.configuration(n) == curves.config(n)


def test_redact_hides_only_the_password():
    assert redact("postgresql://hpo:pw@db:5432/s") == "postgresql://hpo:***@db:5432/s"
    assert redact("postgresql://hpo@db/s") == "postgresql://hpo@db/s"
    assert redact("studies/rs.journal") == "studies/rs.journal"


def replay_study(tmp_path, name="s", **settings):
    return create_study(
        tmp_path / f"{name}.journal",
        name,
        "d2l_hpo.curves:replay_lenet",
        lenet_config_space(),
        initial_config=INITIAL,
        objective_kwargs={"time_scale": 0.0},
        **settings,
    )


def test_a_study_keeps_its_settings_and_refuses_other_ones(tmp_path):
    study = replay_study(tmp_path, scheduler="asha", r_min=2)
    assert study.user_attrs[SETTINGS_KEY]["scheduler"] == "asha"
    again, settings = load_study(tmp_path / "s.journal", "s")
    assert settings.rungs() == [2, 4, 8, 10]
    assert isinstance(again.pruner, optuna.pruners.SuccessiveHalvingPruner)
    replay_study(tmp_path, scheduler="asha", r_min=2)  # the same: opened again
    with pytest.raises(ValueError, match="other settings"):
        replay_study(tmp_path, scheduler="fifo")
    with pytest.raises(ValueError, match="cannot import objective"):
        create_study(tmp_path / "t.journal", "t", "nowhere:f", lenet_config_space())
    with pytest.raises(ValueError, match="scheduler must be"):
        replay_study(tmp_path, name="u", scheduler="sync")


def test_a_worker_in_process_reproduces_the_table_and_asha_stops_trials(tmp_path):
    curves = LearningCurves.load()
    replay_study(tmp_path, name="rs")
    assert run_worker(tmp_path / "rs.journal", "rs", max_trials=6, log=str) == 0
    study, _ = load_study(tmp_path / "rs.journal", "rs")
    frame = trials_frame(study)
    assert list(frame["config_id"]) == list(range(6))
    assert list(frame["state"]) == ["complete"] * 6
    for row in frame.itertuples():
        assert row.validation_error == curves.error(row.config_id)
    reports = reports_frame(study)
    assert len(reports) == 60 and set(reports["epoch"]) == set(range(1, 11))

    replay_study(tmp_path, name="asha", scheduler="asha", r_min=2)
    run_worker(tmp_path / "asha.journal", "asha", max_trials=16, log=str)
    study, _ = load_study(tmp_path / "asha.journal", "asha")
    trials = study.get_trials()
    assert {len(t.intermediate_values) for t in trials} <= {2, 4, 8, 10}
    stopped = [t for t in trials if t.state == TrialState.PRUNED]
    assert len(stopped) >= 8 and trials[0].state == TrialState.COMPLETE


def test_the_budget_cuts_a_running_trial_at_an_epochs_end(tmp_path):
    study = replay_study(tmp_path)
    _, settings = load_study(tmp_path / "s.journal", "s")
    from d2l_hpo.worker import Deadline

    objective = make_objective(settings, "w", Deadline(0.0))
    study.optimize(objective, n_trials=1, catch=(Exception,))
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["cut_by_budget"] and len(trial.intermediate_values) == 1
    assert math.isnan(trials_frame(study)["end"][0])
    assert trials_frame(study)["state"][0] == "cut"
    assert config_id(trial) == 0


def test_redact_hides_passwords_in_every_place_libpq_reads_them():
    assert redact("postgresql://hpo:p@ss@db/s") == "postgresql://hpo:***@db/s"
    assert (
        redact("postgresql://hpo@db/s?password=zz&sslmode=require")
        == "postgresql://hpo@db/s?password=***&sslmode=require"
    )


def completed(number_value, **system_attrs):
    return optuna.create_trial(
        value=number_value,
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0, 1)},
        intermediate_values={1: number_value},
        system_attrs=system_attrs,
    )


def study_with_a_retried_trial() -> optuna.Study:
    """Trial 0 finished (0.5 after epoch 1); trial 1 failed after 0.1 at epoch 1
    and was queued again (trial 2)."""
    from d2l_hpo.studies import RetryFailedTrial

    study = optuna.create_study()
    study.add_trial(completed(0.5, completed_rung_0=0.5))
    failed = optuna.create_trial(
        state=TrialState.FAIL,
        params={"x": 0.25},
        distributions={"x": FloatDistribution(0, 1)},
        intermediate_values={1: 0.1},
        user_attrs={"worker": "w1", "report_times": [1.0], "note": "kept"},
        system_attrs={"completed_rung_0": 0.1},
    )
    study.add_trial(failed)
    assert RetryFailedTrial(max_retry=1)(study, study.trials[1]) == 2
    return study


def test_a_retried_trial_starts_clean():
    from d2l_hpo.studies import RetryFailedTrial

    study = study_with_a_retried_trial()
    retry = study.trials[2]
    assert retry.state == TrialState.WAITING and retry.params == {"x": 0.25}
    assert retry.user_attrs == {"note": "kept"}
    assert "completed_rung_0" not in retry.system_attrs
    assert retry.system_attrs["failed_trial"] == 1 and config_id(retry) == 1
    assert RetryFailedTrial(max_retry=1)(study, retry) is None  # retried once only


@pytest.mark.parametrize("asha", [True, False])
def test_a_retried_configuration_counts_once_at_a_rung(asha):
    from d2l_hpo.studies import AshaPruner

    # A new trial at 0.3 after one epoch: among [0.5, 0.3] it goes on; had the
    # failed run's 0.1 counted as well, Optuna's own pruner stops it.
    study = study_with_a_retried_trial()
    pruner = (AshaPruner if asha else optuna.pruners.SuccessiveHalvingPruner)(1, 2)
    trial = study.ask()
    trial.report(0.3, 1)
    assert pruner.prune(study, study._storage.get_trial(trial._trial_id)) != asha


def test_tpe_starts_from_the_initial_configuration(tmp_path):
    replay_study(tmp_path, name="tpe", searcher="tpe")
    assert run_worker(tmp_path / "tpe.journal", "tpe", max_trials=3, log=str) == 0
    study, _ = load_study(tmp_path / "tpe.journal", "tpe")
    assert study.trials[0].params == INITIAL
    assert len({tuple(t.params.values()) for t in study.trials}) == 3
