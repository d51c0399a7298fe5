"""Layers that the whole model shares."""
import torch
from torch import nn


class Dropout(nn.Dropout):
    """The model's dropout: nn.Dropout with its mask drawn as uniform numbers, the same law as
    F.dropout's Bernoulli draws and cheaper on the CPU (docs/journal.md)."""

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return x * ((torch.rand_like(x) >= self.p) / (1 - self.p))
