"""HPOTrainer's validation error, the 19.1 objective, and its handling of bad input."""

import gc
import math
import weakref

import pytest
import torch
from d2l import torch as d2l

from d2l_hpo.data import FashionMNIST, load_split
from d2l_hpo.search import run_search
from d2l_hpo.searchers import GridSearcher
from d2l_hpo.training import (
    TRAINING_THREADS,
    HPOTrainer,
    hpo_objective_softmax_classification,
    train_softmax_classification,
)


@pytest.fixture(scope="module")
def trained(fashion_root):
    """A softmax regression trained for one epoch, and its trainer."""
    torch.manual_seed(0)
    trainer = HPOTrainer(max_epochs=1)
    model = d2l.SoftmaxRegression(num_outputs=10, lr=0.1)
    trainer.fit(model, FashionMNIST(batch_size=256, root=fashion_root))
    return trainer, model


def brute_force_error(model, images, labels):
    with torch.no_grad():
        predictions = model(images.unsqueeze(1).float() / 255).argmax(dim=1)
    return (predictions != labels).sum().item() / len(labels)


def chapter_validation_error(trainer):
    """The book's version: the mean of per-batch accuracies."""
    accuracy = sum(trainer.model.accuracy(trainer.model(x), y) for x, y in trainer.val_dataloader)
    return 1 - accuracy.item() / len(trainer.val_dataloader)


@pytest.mark.parametrize("batch_size", [16, 100, 114, 256, 10000, 12345])
def test_validation_error_is_the_exact_misclassification_rate(trained, fashion_root, batch_size):
    trainer, model = trained
    images, labels = load_split(fashion_root, train=False)
    exact = brute_force_error(model, images, labels)
    trainer.val_dataloader = FashionMNIST(batch_size, root=fashion_root).val_dataloader()
    error = trainer.validation_error()
    assert type(error) is float
    assert error == exact
    assert 0.1 < exact < 0.3  # a trained model, not a constant one
    if batch_size == 114:  # 10,000 = 87 * 114 + 82: the chapter's mean is biased
        assert chapter_validation_error(trainer) != pytest.approx(exact, abs=1e-6)


def test_validation_error_on_other_data(trained, fashion_root):
    trainer, model = trained
    data = FashionMNIST(64, root=fashion_root, val_fraction=0.1)
    images, labels = load_split(fashion_root, train=True)
    exact = brute_force_error(model, images[data.val_indices], labels[data.val_indices])
    assert trainer.validation_error(data.val_dataloader()) == exact


def test_objective_is_seeded_and_returns_a_float(fashion_root):
    torch.manual_seed(1)
    first = hpo_objective_softmax_classification(
        {"learning_rate": 0.1}, max_epochs=1, root=fashion_root
    )
    torch.manual_seed(1)
    again = hpo_objective_softmax_classification(
        {"learning_rate": 0.1}, max_epochs=1, root=fashion_root
    )
    assert type(first) is float and first == again and 0.1 < first < 0.3


def test_training_can_validate_on_held_out_training_images(fashion_root):
    torch.manual_seed(1)
    config = {"learning_rate": 0.1, "batch_size": 256}
    trainer = train_softmax_classification(config, 1, root=fashion_root, val_fraction=0.2)
    assert (len(trainer.data.train), len(trainer.data.val)) == (48000, 12000)
    held_out = trainer.validation_error()
    test = trainer.validation_error(trainer.data.test_dataloader())
    assert 0.1 < held_out < 0.3 and 0.1 < test < 0.3 and held_out != test
    torch.manual_seed(1)  # the objective is the same training, scored on held-out images
    assert (
        hpo_objective_softmax_classification(config, 1, root=fashion_root, val_fraction=0.2)
        == held_out
    )


@pytest.mark.parametrize(
    ("config", "shown"),
    [({}, "'learning_rate'"), ({"lr": 0.1}, "'learning_rate'"),
     ({"learning_rate": 0}, "got 0"), ({"learning_rate": -0.1}, "got -0.1"),
     ({"learning_rate": math.nan}, "got nan"), ({"learning_rate": math.inf}, "got inf"),
     ({"learning_rate": "0.1"}, "got '0.1'"), ({"learning_rate": None}, "got None"),
     ({"learning_rate": True}, "got True"),
     ({"learning_rate": 0.1, "batch_size": 16.9}, "batch_size"),
     ({"learning_rate": 0.1, "batch_size": 0}, "batch_size"),
     ({"learning_rate": 0.1, "batch_size": True}, "batch_size'] must be a positive integer"),
     ({"learning_rate": 1e39}, "largest float32), got 1e+39"),
     ({"learning_rate": 0.1, "batchsize": 64}, "unknown hyperparameters ['batchsize']"),
     ({"learning_rate": 0.1, "momentum": 0.9}, "accepts ['learning_rate', 'batch_size']")],
)  # fmt: skip
def test_bad_learning_rates_name_key_and_value(config, shown):
    with pytest.raises(ValueError, match="learning_rate|batch_size") as info:
        hpo_objective_softmax_classification(config, max_epochs=1)
    assert shown in str(info.value)


@pytest.mark.parametrize("max_epochs", [0, -1, 1.5, True, None])
def test_max_epochs_must_be_a_positive_integer(max_epochs):
    message = f"max_epochs must be a positive integer, got {max_epochs}"
    with pytest.raises(ValueError, match=message):
        hpo_objective_softmax_classification({"learning_rate": 0.1}, max_epochs=max_epochs)


def test_a_finished_trial_frees_its_data_without_the_garbage_collector(fashion_root):
    """With val_fraction, each trial copies 50,000 images: they must go with the trial."""
    gc.collect()
    gc.disable()
    try:
        config = {"learning_rate": 0.1, "batch_size": 256}
        trainer = train_softmax_classification(config, 1, root=fashion_root, val_fraction=0.2)
        data, model = weakref.ref(trainer.data), weakref.ref(trainer.model)
        assert trainer.validation_error() < 0.3
        del trainer
        assert data() is None and model() is None
    finally:
        gc.enable()


def test_training_uses_the_librarys_thread_count_whatever_the_callers(fashion_root):
    observed = []
    original = d2l.Trainer.fit_epoch

    def observing_fit_epoch(self):
        observed.append(torch.get_num_threads())
        original(self)

    errors = []
    saved = torch.get_num_threads()
    try:
        for callers in (1, 2, 3):
            torch.set_num_threads(callers)
            torch.manual_seed(0)
            d2l.Trainer.fit_epoch = observing_fit_epoch
            errors.append(
                hpo_objective_softmax_classification({"learning_rate": 0.5}, 1, root=fashion_root)
            )
            d2l.Trainer.fit_epoch = original
            assert torch.get_num_threads() == callers  # restored afterwards
    finally:
        d2l.Trainer.fit_epoch = original
        torch.set_num_threads(saved)
    assert observed == [TRAINING_THREADS] * 3
    assert errors[0] == errors[1] == errors[2]


def test_a_diverging_trial_scores_a_constant_prediction_and_the_search_goes_on(fashion_root):
    def objective(config):
        return hpo_objective_softmax_classification(config, max_epochs=2, root=fashion_root)

    searcher = GridSearcher({"learning_rate": [1e38, 0.1], "batch_size": [256]})
    results = run_search(objective, searcher, progress=False)
    diverged, fine = results.trials
    assert diverged.error == 0.9  # 1,000 of each class: a constant guess is 90% wrong
    assert 0.1 < fine.error < 0.3
    assert results.best().trial_id == 1


def test_divergence_stops_training_early(fashion_root, monkeypatch):
    torch.manual_seed(0)
    trainer = HPOTrainer(max_epochs=3)
    model = d2l.SoftmaxRegression(num_outputs=10, lr=1e38)
    epochs = []
    original = d2l.Trainer.fit_epoch

    def counting_fit_epoch(self):
        epochs.append(self.epoch)
        original(self)

    monkeypatch.setattr(d2l.Trainer, "fit_epoch", counting_fit_epoch)
    trainer.fit(model, FashionMNIST(batch_size=256, root=fashion_root))
    assert trainer.diverged and epochs == [0]
    assert trainer.validation_error() == 0.9
