"""Fashion-MNIST as in-memory tensors, served in minibatches by slicing.

`FashionMNIST` is a drop-in for ``d2l.FashionMNIST``: the same arguments and
methods, but the IDX files are decoded once per process and kept as uint8
tensors, so a trial in a search pays neither PIL transforms nor worker
processes. It can also hold out a validation split of the training images.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from d2l import torch as d2l
from torchvision.transforms import functional as TF

from d2l_hpo.checks import integer
from d2l_hpo.fashion_files import ensure_fashion_mnist

TEXT_LABELS = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip

_IDX_DTYPES = {0x08: np.uint8}
_DECODED: dict[Path, torch.Tensor] = {}


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Decode an uncompressed IDX file (big-endian header, then uint8 data)."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    if len(data) != header + math.prod(shape):
        raise ValueError(f"{path}: size does not match its header shape {shape}")
    array = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=header)
    return torch.from_numpy(array.reshape(shape).copy())


def load_split(
    root: str | os.PathLike, train: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 28, 28, uint8) and labels (N, int64) of one official split.

    Decoded once per process and cached: later calls return the same tensors.
    """
    raw = ensure_fashion_mnist(root)
    prefix = "train" if train else "t10k"
    tensors = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        path = (raw / f"{prefix}-{kind}").resolve()
        if path not in _DECODED:
            decoded = read_idx(path)
            _DECODED[path] = (
                decoded.long() if kind.startswith("labels") else decoded
            )
        tensors.append(_DECODED[path])
    images, labels = tensors
    return images, labels


class ImageSet(torch.utils.data.Dataset):
    """uint8 images with labels; items are ``(float image (1, H, W), label)``.

    Indexing returns what torchvision's ``ToTensor`` would: pixels / 255.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, resize=(28, 28)):
        self.images, self.labels, self.resize = images, labels, tuple(resize)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return to_float_images(self.images[i : i + 1], self.resize)[0], int(
            self.labels[i]
        )


def to_float_images(images: torch.Tensor, resize=(28, 28)) -> torch.Tensor:
    """uint8 (B, 28, 28) to float32 (B, 1, H, W) in [0, 1], resized if asked."""
    x = images.unsqueeze(1).float().div_(255)
    if tuple(resize) != tuple(images.shape[-2:]):
        x = TF.resize(x, list(resize), antialias=True)
    return x


class SlicedBatches:
    """Minibatches of an `ImageSet` by slicing, reshuffled each pass if `shuffle`.

    Shuffling draws from torch's global generator, as ``DataLoader`` does, so
    ``torch.manual_seed`` makes the order reproducible.
    """

    def __init__(self, dataset: ImageSet, batch_size: int, shuffle: bool):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.dataset.images, self.dataset.labels
        if self.shuffle:
            order = torch.randperm(len(labels))
            images, labels = images[order], labels[order]
        for start in range(0, len(labels), self.batch_size):
            stop = start + self.batch_size
            yield (
                to_float_images(images[start:stop], self.dataset.resize),
                labels[start:stop],
            )


def holdout_indices(
    n: int, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(n)`` at random into (train, held-out) index tensors."""
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction!r}")
    num_val = round(n * fraction)
    if not 0 < num_val < n:
        raise ValueError(f"val_fraction={fraction!r} leaves an empty split of {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[num_val:].sort().values, order[:num_val].sort().values


class FashionMNIST(d2l.DataModule):
    """Fashion-MNIST, a drop-in for ``d2l.FashionMNIST`` with images in memory.

    With ``val_fraction=None`` (the chapter's setting) it trains on the 60,000
    training images and validates on the 10,000 test images. With a fraction,
    it validates on that share of the training images instead (drawn with
    `split_seed`), trains on the rest, and keeps the test set apart in `test`.
    """

    def __init__(
        self,
        batch_size: int = 64,
        resize=(28, 28),
        root: str | os.PathLike = "../data",
        val_fraction: float | None = None,
        split_seed: int = 0,
    ):
        integer(batch_size, "batch_size", minimum=1)
        super().__init__(root=root, num_workers=0)
        self.save_hyperparameters()
        train_images, train_labels = load_split(root, train=True)
        test_images, test_labels = load_split(root, train=False)
        self.test = ImageSet(test_images, test_labels, resize)
        if val_fraction is None:
            self.train = ImageSet(train_images, train_labels, resize)
            self.val = self.test
            self.train_indices = torch.arange(len(train_labels))
            self.val_indices = None
        else:
            self.train_indices, self.val_indices = holdout_indices(
                len(train_labels), val_fraction, split_seed
            )
            self.train = ImageSet(
                train_images[self.train_indices],
                train_labels[self.train_indices],
                resize,
            )
            self.val = ImageSet(
                train_images[self.val_indices],
                train_labels[self.val_indices],
                resize,
            )

    def get_dataloader(self, train: bool) -> SlicedBatches:
        return SlicedBatches(
            self.train if train else self.val, self.batch_size, train
        )

    def test_dataloader(self) -> SlicedBatches:
        """Batches of the 10,000 official test images, never used for training."""
        return SlicedBatches(self.test, self.batch_size, False)

    def text_labels(self, indices) -> list[str]:
        """Return text labels."""
        return [TEXT_LABELS[int(i)] for i in indices]

    def visualize(self, batch, nrows: int = 1, ncols: int = 8, labels=()):
        """Show the images of a batch with their labels, as ``d2l`` does."""
        X, y = batch
        if not labels:
            labels = self.text_labels(y)
        d2l.show_images(X.squeeze(1), nrows, ncols, titles=labels)
