"""Models the chapter tunes that the ``d2l`` package does not export."""

from __future__ import annotations

from d2l import torch as d2l
from torch import nn


class DropoutMLP(d2l.Classifier):
    """The MLP with two hidden layers and dropout of d2l's section 5.6."""

    def __init__(
        self, num_outputs, num_hiddens_1, num_hiddens_2, dropout_1, dropout_2, lr
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.LazyLinear(num_hiddens_1),
            nn.ReLU(),
            nn.Dropout(dropout_1),
            nn.LazyLinear(num_hiddens_2),
            nn.ReLU(),
            nn.Dropout(dropout_2),
            nn.LazyLinear(num_outputs),
        )
