"""The objectives of 19.2 and 19.4: per-epoch reports, checkpoints, bad input."""

import pytest
import torch

from d2l_hpo.checkpoints import CheckpointStore
from d2l_hpo.objectives import hpo_objective_dropoutmlp, hpo_objective_lenet
from d2l_hpo.seeding import seed_everything


def lenet(root, max_epochs, **kwargs):
    return hpo_objective_lenet(0.3, 250, max_epochs, root=root, **kwargs)


def test_continuing_from_a_checkpoint_is_training_from_scratch(fashion_root):
    """The weights and the random generator's state are saved: the same result."""
    seed_everything(3)
    scratch_curve = []
    scratch = lenet(fashion_root, 2, report=lambda **kw: scratch_curve.append(kw))
    store = CheckpointStore()
    seed_everything(3)
    curve = []
    lenet(fashion_root, 1, checkpoint=store.slot(0), report=lambda **kw: curve.append(kw))
    seed_everything(99)  # whatever the generator's state: the checkpoint restores it
    continued = lenet(
        fashion_root, 2, checkpoint=store.slot(0), report=lambda **kw: curve.append(kw)
    )
    assert continued == scratch
    assert curve == scratch_curve  # epoch 1 from the first run, epoch 2 continued
    assert [c["epoch"] for c in curve] == [1, 2]
    assert all(0 < c["validation_error"] <= 0.9 for c in curve)


def test_a_checkpoint_beyond_the_budget_is_refused(fashion_root, tmp_path):
    store = CheckpointStore(tmp_path)
    seed_everything(0)
    hpo_objective_dropoutmlp(16, 16, 0.1, 0.1, 0.1, 256, 2, root=fashion_root,
                             checkpoint=store.slot(1))  # fmt: skip
    with pytest.raises(ValueError, match="the checkpoint holds 2 epochs"):
        hpo_objective_dropoutmlp(16, 16, 0.1, 0.1, 0.1, 256, 1, root=fashion_root,
                                 checkpoint=store.slot(1))  # fmt: skip


def test_dropout_mlp_learns(fashion_root):
    seed_everything(0)
    error = hpo_objective_dropoutmlp(64, 32, 0.2, 0.2, 0.1, 128, 1, root=fashion_root)
    assert type(error) is float and 0.1 < error < 0.3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda root: hpo_objective_lenet(0, 128, root=root), "learning_rate must be"),
        (lambda root: hpo_objective_lenet(0.1, 12.5, root=root), "batch_size must be"),
        (lambda root: hpo_objective_lenet(0.1, 128, 0, root=root), "max_epochs must be"),
        (lambda root: hpo_objective_dropoutmlp(8, 8, 0.95, 1.0, 0.1, 16, root=root),
         "dropout_2 must be in"),
        (lambda root: hpo_objective_dropoutmlp(0, 8, 0.5, 0.5, 0.1, 16, root=root),
         "num_hiddens_1 must be"),
    ],
)  # fmt: skip
def test_bad_hyperparameters_are_refused_before_training(fashion_root, call, message):
    with pytest.raises(ValueError, match=message):
        call(fashion_root)


def test_the_trainer_runs_on_one_thread_and_restores_the_count(fashion_root):
    before = torch.get_num_threads()
    seed_everything(0)
    hpo_objective_dropoutmlp(16, 16, 0.0, 0.0, 0.1, 512, 1, root=fashion_root)
    assert torch.get_num_threads() == before
