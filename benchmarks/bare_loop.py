"""The floor every benchmark compares with: one epoch of plain SGD over in-memory tensors."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def train_one_epoch(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    learning_rate: float,
) -> None:
    """Shuffle once (torch's global generator), then step through uint8 `images`."""
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    order = torch.randperm(len(labels))
    images, labels = images[order], labels[order]
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].unsqueeze(1).float().div_(255)
        loss = F.cross_entropy(model(x), labels[start : start + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
