"""Training for HPO: a trainer that reports validation error, and the objective."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from d2l import torch as d2l

from d2l_hpo.checks import integer, positive_float
from d2l_hpo.data import FashionMNIST

#: Torch threads for training the chapter's small models. On two cores one thread
#: is as fast as two at batch size 16, and many threads only add overhead to
#: such tiny matrix products (benchmarks/threads.py). A fixed count also makes
#: results independent of the number of cores: threads split sums differently.
TRAINING_THREADS = 1


@contextmanager
def torch_threads(num_threads: int) -> Iterator[None]:
    """Run the block with `num_threads` torch threads, then restore the count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class HPOTrainer(d2l.Trainer):
    """A ``d2l.Trainer`` that can report the validation error of its model.

    It draws no progress board (a search runs many trials, and the animation
    costs time and floods the notebook), and it stops early when training
    diverges: `diverged` is then true and the validation error is that of a
    constant prediction. It trains and validates with `num_threads` torch threads
    (by default the module's `TRAINING_THREADS`, read when the trainer is made).
    """

    def __init__(
        self, max_epochs, num_gpus=0, gradient_clip_val=0, num_threads=None
    ):
        super().__init__(max_epochs, num_gpus, gradient_clip_val)
        num_threads = TRAINING_THREADS if num_threads is None else num_threads
        self.num_threads = integer(num_threads, "num_threads", minimum=1)

    def prepare_model(self, model):
        super().prepare_model(model)
        # d2l links model and trainer both ways; a weak link back lets a finished
        # trial's trainer, data and model be freed at once, not at the next garbage
        # collection (which let a search grow by a data set per trial).
        model.trainer = weakref.proxy(self)
        model.plot = _no_plot  # d2l's board rebuilds a namedtuple on every step
        self.diverged = False

    def fit(self, model, data, *, start_epoch: int = 0, epoch_end=None):
        """Train epochs ``start_epoch + 1`` to `max_epochs`, as ``d2l.Trainer.fit``.

        `start_epoch` continues a model restored from a checkpoint, and
        ``epoch_end(epoch)`` is called after each epoch (counted from 1), so that an
        objective can report a learning curve.
        """
        with torch_threads(self.num_threads):
            self.prepare_data(data)
            self.prepare_model(model)
            self.optim = model.configure_optimizers()
            self.train_batch_idx = self.val_batch_idx = 0
            for epoch in range(start_epoch, self.max_epochs):
                self.epoch = epoch
                self.fit_epoch()
                if epoch_end is not None:
                    epoch_end(self.epoch + 1)

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
        self.diverged = not all(
            torch.isfinite(p).all() for p in self.model.parameters()
        )

    def validation_error(self, dataloader=None) -> float:
        """Share of misclassified validation examples, as a Python float.

        Counts mistakes over the whole validation set, so the result is exact
        for every batch size; averaging per-batch accuracies (as the book's
        version does) over-weights a smaller last batch. Pass `dataloader` to
        measure the error on other data, such as a test set.
        """
        self.model.eval()
        wrong, total, labels = 0, 0, []
        with torch_threads(self.num_threads), torch.no_grad():
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
    """Error of always predicting the commonest label: a diverged run's worth."""
    counts = torch.bincount(labels)
    return 1.0 - counts.max().item() / labels.numel()


#: The hyperparameters that 19.1's objective understands, with their defaults.
SOFTMAX_HYPERPARAMETERS = {"learning_rate": None, "batch_size": 16}


def softmax_hyperparameters(config: Mapping) -> tuple[float, int]:
    """(learning rate, batch size) of a 19.1 configuration, checked up front.

    A `ValueError` names what is wrong: a missing learning rate, one that is not a
    finite number > 0 within float32's range, a batch size that is not a positive
    integer (`True` included), or a key the objective does not know (``batchsize``).
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict, got {config!r}")
    unknown = sorted(set(config) - set(SOFTMAX_HYPERPARAMETERS), key=str)
    if unknown:
        raise ValueError(
            f"config has unknown hyperparameters {unknown}; this objective accepts "
            f"{list(SOFTMAX_HYPERPARAMETERS)}"
        )
    if "learning_rate" not in config:
        raise ValueError(
            f"config has no 'learning_rate' (keys: {sorted(config)}); "
            "the objective needs a positive learning rate"
        )
    learning_rate = positive_float(
        config["learning_rate"], "config['learning_rate']"
    )
    batch_size = config.get("batch_size", SOFTMAX_HYPERPARAMETERS["batch_size"])
    return learning_rate, integer(batch_size, "config['batch_size']", minimum=1)


def train_softmax_classification(
    config: Mapping,
    max_epochs: int = 8,
    *,
    val_fraction: float | None = None,
    split_seed: int = 0,
    root: str = "../data",
) -> HPOTrainer:
    """Train softmax regression on Fashion-MNIST with `config`, as 19.1 does.

    ``SoftmaxRegression(num_outputs=10, lr=...)``, batch size 16 (or
    ``config["batch_size"]``), `max_epochs` epochs. With `val_fraction`, a share of
    the training images is held out for validation instead of the test set. Returns
    the trainer, with the trained model in ``trainer.model`` and the data module in
    ``trainer.data``.
    """
    learning_rate, batch_size = softmax_hyperparameters(config)
    trainer = HPOTrainer(max_epochs=integer(max_epochs, "max_epochs", minimum=1))
    trainer.data = FashionMNIST(
        batch_size=batch_size,
        root=root,
        val_fraction=val_fraction,
        split_seed=split_seed,
    )
    model = d2l.SoftmaxRegression(num_outputs=10, lr=learning_rate)
    trainer.fit(model=model, data=trainer.data)
    return trainer


def hpo_objective_softmax_classification(
    config: Mapping, max_epochs: int = 8, **data
) -> float:
    """The objective of 19.1: the validation error after training with `config`.

    `data` options (`val_fraction`, `split_seed`, `root`) go to
    `train_softmax_classification`.
    """
    return train_softmax_classification(
        config, max_epochs, **data
    ).validation_error()
