"""Objectives of 19.2 and 19.4: train a model, report every epoch, resume if asked.

`hpo_objective_lenet` is the chapter's objective (LeNet on Fashion-MNIST) and
`hpo_objective_dropoutmlp` that of 19.2's exercise 1, with what multi-fidelity
search needs: both report the validation error after every epoch (`report`), and can
continue a configuration from the state a shorter run saved (`checkpoint`) instead
of training it again from scratch. The training they share is `fit_and_validate`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from d2l import torch as d2l

from d2l_hpo.checkpoints import Checkpoint
from d2l_hpo.checks import integer, positive_float
from d2l_hpo.data import FashionMNIST
from d2l_hpo.models import DropoutMLP
from d2l_hpo.training import HPOTrainer

Report = Callable[..., None]


def fit_and_validate(
    model: d2l.Module,
    data: FashionMNIST,
    max_epochs: int,
    *,
    report: Report | None = None,
    checkpoint: Checkpoint | None = None,
    init: Callable | None = None,
    num_gpus: int = 0,
) -> float:
    """Train `model` to `max_epochs` epochs; return its validation error.

    A fresh model is shaped by one training batch and initialized with `init`. With
    `checkpoint`, training continues from the state it holds (the weights, the epoch
    and the random generator's state, so that the result is that of training from
    scratch) and the new state is saved there. With `report`,
    ``report(epoch=..., validation_error=...)`` follows every epoch.
    """
    max_epochs = integer(max_epochs, "max_epochs", minimum=1)
    trainer = HPOTrainer(max_epochs=max_epochs, num_gpus=num_gpus)
    state = None if checkpoint is None else checkpoint.load()
    if state is None:
        start_epoch = 0
        model.apply_init([next(iter(data.get_dataloader(True)))[0]], init)
    else:
        start_epoch = state["epoch"]
        if start_epoch > max_epochs:
            raise ValueError(
                f"the checkpoint holds {start_epoch} epochs, more than "
                f"max_epochs = {max_epochs}"
            )
        model.apply_init([torch.zeros(1, 1, *data.resize)])  # shapes lazy layers
        model.load_state_dict(state["model"])
        torch.set_rng_state(state["rng"])
    errors = {}

    def epoch_end(epoch: int) -> None:
        errors[epoch] = trainer.validation_error()
        if report is not None:
            report(epoch=epoch, validation_error=errors[epoch])

    trainer.fit(model, data, start_epoch=start_epoch, epoch_end=epoch_end)
    if checkpoint is not None:
        weights = {k: v.cpu() for k, v in model.state_dict().items()}
        rng = torch.get_rng_state()
        checkpoint.save({"epoch": max_epochs, "model": weights, "rng": rng})
    return errors[max_epochs] if errors else trainer.validation_error()


def hpo_objective_lenet(
    learning_rate: float,
    batch_size: int,
    max_epochs: int = 10,
    *,
    report: Report | None = None,
    checkpoint: Checkpoint | None = None,
    num_gpus: int = 1,
    root: str = "../data",
) -> float:
    """Validation error of ``d2l.LeNet`` after `max_epochs` epochs of training.

    Trained as in the chapter (SGD, Xavier initialization), on a GPU if there is
    one, as d2l's ``num_gpus`` does; `report` and `checkpoint` as in
    `fit_and_validate`.
    """
    learning_rate = positive_float(learning_rate, "learning_rate")
    batch_size = integer(batch_size, "batch_size", minimum=1)
    data = FashionMNIST(batch_size=batch_size, root=root)
    model = d2l.LeNet(lr=learning_rate, num_classes=10)
    return fit_and_validate(
        model,
        data,
        max_epochs,
        report=report,
        checkpoint=checkpoint,
        init=d2l.init_cnn,
        num_gpus=num_gpus,
    )


def hpo_objective_dropoutmlp(
    num_hiddens_1: int,
    num_hiddens_2: int,
    dropout_1: float,
    dropout_2: float,
    lr: float,
    batch_size: int,
    max_epochs: int = 50,
    *,
    report: Report | None = None,
    checkpoint: Checkpoint | None = None,
    num_gpus: int = 0,
    root: str = "../data",
) -> float:
    """Validation error of `DropoutMLP` after `max_epochs` epochs (19.2, ex. 1).

    On the CPU by default (``num_gpus=0``), as the exercise says: a GPU does not
    help so small a model. `report` and `checkpoint` as in `fit_and_validate`.
    """
    for name, rate in (("dropout_1", dropout_1), ("dropout_2", dropout_2)):
        if not 0 <= rate < 1:
            raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
    model = DropoutMLP(
        10,
        integer(num_hiddens_1, "num_hiddens_1", minimum=1),
        integer(num_hiddens_2, "num_hiddens_2", minimum=1),
        dropout_1,
        dropout_2,
        positive_float(lr, "lr"),
    )
    batch_size = integer(batch_size, "batch_size", minimum=1)
    data = FashionMNIST(batch_size=batch_size, root=root)
    return fit_and_validate(
        model,
        data,
        max_epochs,
        report=report,
        checkpoint=checkpoint,
        num_gpus=num_gpus,
    )
