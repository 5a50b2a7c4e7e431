"""The objective of 19.2 and 19.4: LeNet on Fashion-MNIST, one report per epoch.

As the chapter's ``hpo_objective_lenet``, with what multi-fidelity search needs: it
reports the validation error after every epoch (`report`), and it can continue a
configuration from the state that an earlier, shorter run saved (`checkpoint`)
instead of training it again from scratch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from d2l import torch as d2l

from d2l_hpo.checkpoints import Checkpoint
from d2l_hpo.checks import integer, positive_float
from d2l_hpo.data import FashionMNIST
from d2l_hpo.training import HPOTrainer

Report = Callable[..., None]


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

    With `report`, ``report(epoch=..., validation_error=...)`` is called after every
    epoch. With `checkpoint`, training continues from the state it holds (the
    model's weights, the epoch and the random generator's state, so the result is
    the same as training from scratch) and the new state is saved there. A GPU is
    used if there is one, as d2l's ``num_gpus`` does.
    """
    learning_rate = positive_float(learning_rate, "learning_rate")
    batch_size = integer(batch_size, "batch_size", minimum=1)
    max_epochs = integer(max_epochs, "max_epochs", minimum=1)
    data = FashionMNIST(batch_size=batch_size, root=root)
    model = d2l.LeNet(lr=learning_rate, num_classes=10)
    trainer = HPOTrainer(max_epochs=max_epochs, num_gpus=num_gpus)
    state = None if checkpoint is None else checkpoint.load()
    if state is None:
        start_epoch = 0
        model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
    else:
        start_epoch = state["epoch"]
        if start_epoch > max_epochs:
            raise ValueError(
                f"the checkpoint holds {start_epoch} epochs, more than "
                f"max_epochs = {max_epochs}"
            )
        model.apply_init([torch.zeros(1, 1, 28, 28)])  # shapes the lazy layers
        model.load_state_dict(state["model"])
        torch.set_rng_state(state["rng"])
    errors = {}

    def epoch_end(epoch: int) -> None:
        errors[epoch] = trainer.validation_error()
        if report is not None:
            report(epoch=epoch, validation_error=errors[epoch])

    trainer.fit(model, data, start_epoch=start_epoch, epoch_end=epoch_end)
    if checkpoint is not None:
        checkpoint.save(
            {
                "epoch": max_epochs,
                "model": {k: v.cpu() for k, v in model.state_dict().items()},
                "rng": torch.get_rng_state(),
            }
        )
    return errors[max_epochs] if errors else trainer.validation_error()
