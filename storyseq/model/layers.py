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


def conv_block(c_in, c_out, stride=1, dilation=1):
    """A 3x3 convolution (same size at stride 1), GroupNorm (two groups) and SiLU: the image paths'
    building block."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation),
                         nn.GroupNorm(2, c_out), nn.SiLU())
