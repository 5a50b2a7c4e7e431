"""Training for HPO: a ``d2l.Trainer`` that reports validation error, and 19.1's objective."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch
from d2l import torch as d2l

from d2l_hpo.data import FashionMNIST


class HPOTrainer(d2l.Trainer):
    """A ``d2l.Trainer`` that can report the validation error of its model.

    It draws no progress board (a search runs many trials, and the animation
    costs time and floods the notebook), and it stops early when training
    diverges: `diverged` is then true and the validation error is that of a
    constant prediction.
    """

    def prepare_model(self, model):
        super().prepare_model(model)
        model.plot = _no_plot  # d2l's board rebuilds a namedtuple on every step
        self.diverged = False

    def fit_epoch(self):
        """Train one epoch, or nothing once diverged.

        d2l's per-epoch validation pass only feeds the progress board, so it is
        skipped: `validation_error` measures the model once training is done.
        """
        if self.diverged:
            return
        val_dataloader, self.val_dataloader = self.val_dataloader, None
        try:
            super().fit_epoch()
        finally:
            self.val_dataloader = val_dataloader
        self.diverged = not all(torch.isfinite(p).all() for p in self.model.parameters())

    def validation_error(self, dataloader=None) -> float:
        """Share of misclassified validation examples, as a Python float.

        Counts mistakes over the whole validation set, so the result is exact
        for every batch size; averaging per-batch accuracies (as the book's
        version does) over-weights a smaller last batch. Pass `dataloader` to
        measure the error on other data, such as a test set.
        """
        self.model.eval()
        wrong, total = 0, 0
        labels = []
        with torch.no_grad():
            for batch in self.val_dataloader if dataloader is None else dataloader:
                *inputs, y = self.prepare_batch(batch)
                y_hat = self.model(*inputs)
                if not torch.isfinite(y_hat).all():
                    self.diverged = True
                correct = self.model.accuracy(y_hat, y, averaged=False)
                wrong += int(correct.numel() - correct.sum().item())
                total += correct.numel()
                labels.append(y.reshape(-1))
        if self.diverged:
            return constant_prediction_error(torch.cat(labels))
        return wrong / total


def _no_plot(key, value, train) -> None:
    """Stands in for ``d2l.Module.plot`` during a search: draws nothing."""


def constant_prediction_error(labels: torch.Tensor) -> float:
    """Error of always predicting the most frequent label: what a diverged run is worth."""
    counts = torch.bincount(labels)
    return 1.0 - counts.max().item() / labels.numel()


def learning_rate_of(config: Mapping) -> float:
    """``config["learning_rate"]`` as a float, or `ValueError` naming key and value."""
    if "learning_rate" not in config:
        raise ValueError(
            f"config has no 'learning_rate' (keys: {sorted(config)}); "
            "the objective needs a positive learning rate"
        )
    value = config["learning_rate"]
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or math.isnan(value) or not value > 0 or math.isinf(value):
        raise ValueError(f"config['learning_rate'] must be a finite number > 0, got {value!r}")
    return float(value)


def train_softmax_classification(
    config: Mapping,
    max_epochs: int = 8,
    *,
    val_fraction: float | None = None,
    split_seed: int = 0,
    root: str = "../data",
) -> HPOTrainer:
    """Train softmax regression on Fashion-MNIST with `config`, as section 19.1 does.

    ``SoftmaxRegression(num_outputs=10, lr=...)``, batch size 16 (or
    ``config["batch_size"]``), `max_epochs` epochs. With `val_fraction`, a share of
    the training images is held out for validation instead of the test set. Returns
    the trainer, with the trained model in ``trainer.model`` and the data module in
    ``trainer.data``.
    """
    learning_rate = learning_rate_of(config)
    trainer = HPOTrainer(max_epochs=max_epochs)
    trainer.data = FashionMNIST(
        batch_size=config.get("batch_size", 16),
        root=root,
        val_fraction=val_fraction,
        split_seed=split_seed,
    )
    model = d2l.SoftmaxRegression(num_outputs=10, lr=learning_rate)
    trainer.fit(model=model, data=trainer.data)
    return trainer


def hpo_objective_softmax_classification(config: Mapping, max_epochs: int = 8, **data) -> float:
    """The objective of section 19.1: the validation error after training with `config`.

    `data` options (`val_fraction`, `split_seed`, `root`) go to
    `train_softmax_classification`.
    """
    return train_softmax_classification(config, max_epochs, **data).validation_error()
