"""The in-memory Fashion-MNIST data module."""

import pytest
import torch
import torchvision
from d2l import torch as d2l

from d2l_hpo.data import FashionMNIST, holdout_indices, load_split, read_idx
from d2l_hpo.fashion_files import raw_folder


@pytest.mark.parametrize("train", [True, False])
def test_images_and_labels_equal_torchvisions_reading(fashion_root, train):
    images, labels = load_split(fashion_root, train)
    reference = torchvision.datasets.FashionMNIST(fashion_root, train=train, download=False)
    assert images.dtype == torch.uint8 and images.shape == reference.data.shape
    assert torch.equal(images, reference.data)
    assert torch.equal(labels, reference.targets)


def test_decoded_once_per_process(fashion_root):
    assert load_split(fashion_root, True)[0] is load_split(fashion_root, True)[0]


def test_batches_match_torchvision_transform_pixel_for_pixel(fashion_root):
    data = FashionMNIST(batch_size=114, root=fashion_root)
    reference = torchvision.datasets.FashionMNIST(
        fashion_root, train=False, download=False,
        transform=torchvision.transforms.ToTensor(),
    )  # fmt: skip
    batches = list(data.val_dataloader())
    assert len(batches) == len(data.val_dataloader()) == 88  # 87 full + 82 left over
    X = torch.cat([x for x, _ in batches])
    y = torch.cat([y for _, y in batches])
    assert X.shape == (10000, 1, 28, 28) and X.dtype == torch.float32
    for i in (0, 1, 4321, 9999):
        image, label = reference[i]
        assert torch.equal(X[i], image) and y[i] == label
        assert torch.equal(data.val[i][0], image) and data.val[i][1] == label


def test_training_batches_are_a_seeded_permutation(fashion_root):
    data = FashionMNIST(batch_size=1000, root=fashion_root)
    torch.manual_seed(0)
    first = torch.cat([y for _, y in data.train_dataloader()])
    torch.manual_seed(0)
    again = torch.cat([y for _, y in data.train_dataloader()])
    second = torch.cat([y for _, y in data.train_dataloader()])
    _, labels = load_split(fashion_root, True)
    assert torch.equal(first, again) and not torch.equal(first, second)
    assert not torch.equal(first, labels)  # shuffled ...
    assert torch.equal(torch.bincount(first), torch.bincount(labels))  # ... not resampled


def test_holdout_split_is_disjoint_complete_and_seeded(fashion_root):
    data = FashionMNIST(batch_size=64, root=fashion_root, val_fraction=0.2, split_seed=3)
    train, val = set(data.train_indices.tolist()), set(data.val_indices.tolist())
    assert len(val) == 12000 and len(train) == 48000
    assert not train & val and train | val == set(range(60000))
    assert (len(data.train), len(data.val), len(data.test)) == (48000, 12000, 10000)
    images, labels = load_split(fashion_root, True)
    assert torch.equal(data.val.images, images[data.val_indices])
    assert torch.equal(data.train.labels, labels[data.train_indices])
    same = holdout_indices(60000, 0.2, 3)
    other = holdout_indices(60000, 0.2, 4)
    assert torch.equal(same[1], data.val_indices)
    assert not torch.equal(other[1], data.val_indices)


def test_without_a_split_it_validates_on_the_test_set_as_the_chapter_does(fashion_root):
    data = FashionMNIST(batch_size=16, root=fashion_root)
    assert data.val is data.test and len(data.train) == 60000


def test_drop_in_for_d2l_fashion_mnist(fashion_root, tmp_path, monkeypatch):
    # Stock d2l reads ../data: give it the same root, as a notebook folder would.
    (tmp_path / "data").symlink_to(fashion_root)
    (tmp_path / "chapter").mkdir()
    monkeypatch.chdir(tmp_path / "chapter")
    data = FashionMNIST(batch_size=32, resize=(32, 32))
    stock = d2l.FashionMNIST(batch_size=32, resize=(32, 32))  # finds them, no download
    assert len(stock.train) == len(data.train) == 60000
    assert isinstance(data, d2l.DataModule)
    assert data.text_labels([0, 9]) == stock.text_labels([0, 9]) == ["t-shirt", "ankle boot"]
    X, y = next(iter(data.val_dataloader()))
    assert X.shape == (32, 1, 32, 32) and y.shape == (32,)
    assert 0 <= X.min() and X.max() <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"val_fraction": 0.0}, "val_fraction"), ({"val_fraction": 1.5}, "val_fraction"),
     ({"batch_size": 0}, "batch_size"), ({"val_fraction": 1e-6}, "empty split"),
     ({"batch_size": True}, "batch_size must be a positive integer, got True"),
     ({"batch_size": 16.0}, "batch_size must be a positive integer, got 16.0")],
)  # fmt: skip
def test_bad_arguments_are_named(fashion_root, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FashionMNIST(**{"batch_size": 16, "root": fashion_root, **kwargs})


def test_read_idx_rejects_what_is_not_idx(tmp_path, fashion_root):
    path = tmp_path / "bad"
    path.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    good = (raw_folder(fashion_root) / "t10k-labels-idx1-ubyte").read_bytes()
    path.write_bytes(good[:-1])
    with pytest.raises(ValueError, match="size does not match"):
        read_idx(path)


def test_visualize_draws_a_row_of_labelled_images(fashion_root):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    data = FashionMNIST(batch_size=8, root=fashion_root)
    batch = next(iter(data.val_dataloader()))
    data.visualize(batch)
    axes = plt.gcf().axes
    assert len(axes) == 8
    assert [ax.get_title() for ax in axes] == data.text_labels(batch[1])
    plt.close("all")
