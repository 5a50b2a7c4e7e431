"""Searchers: the chapter's RandomSearcher with its initial configuration, and
the LocalSearcher of 19.2's exercise 2."""

import pytest
from scipy import stats

from d2l_hpo.searchers import LocalSearcher, RandomSearcher

SPACE = {"x": stats.uniform(0, 1), "y": stats.uniform(0, 1)}


def test_the_initial_config_comes_first_as_a_copy_then_the_same_random_draws():
    initial = {"x": 0.5, "y": 0.5}
    searcher = RandomSearcher(SPACE, initial_config=initial, seed=3)
    first = searcher.sample_configuration()
    assert first == initial and first is not initial
    first["max_epochs"] = 2
    assert initial == {"x": 0.5, "y": 0.5}
    plain = RandomSearcher(SPACE, seed=3)
    assert [searcher.sample_configuration() for _ in range(3)] == [
        plain.sample_configuration() for _ in range(3)
    ]


def test_an_initial_config_that_is_not_a_dict_is_refused():
    with pytest.raises(ValueError, match="initial_config must be a dict"):
        RandomSearcher(SPACE, 0)  # a seed passed where the chapter's signature has initial_config


def test_local_search_changes_one_hyperparameter_of_the_best():
    searcher = LocalSearcher(SPACE, probab_local=1.0, num_init_random=2, seed=0)
    first, second = searcher.sample_configuration(), searcher.sample_configuration()
    searcher.update(first, 0.3)
    searcher.update({**second, "max_epochs": 4}, 0.2)  # what a scheduler adds is dropped
    assert searcher.best_config == second
    for _ in range(20):
        proposal = searcher.sample_configuration()
        changed = [name for name in SPACE if proposal[name] != second[name]]
        assert len(changed) == 1 and set(proposal) == set(SPACE)


def test_local_search_starts_like_random_search_and_stays_random_without_locality():
    local = LocalSearcher(SPACE, probab_local=0.0, num_init_random=1, seed=5)
    plain = RandomSearcher(SPACE, seed=5)
    for _ in range(5):
        config = local.sample_configuration()
        assert config == plain.sample_configuration()
        local.update(config, config["x"])


def test_local_search_checks_its_probability():
    with pytest.raises(ValueError, match="probab_local must be in"):
        LocalSearcher(SPACE, probab_local=1.5)
