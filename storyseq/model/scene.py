"""Scene tokens: frames 1..K's pixels as a grid of tokens that the copy decoder attends over
(model.scene_tokens). The frozen image features are pooled over the whole picture, so they keep
little of where things stand; a caption that says where a character turns, or that night
falls, needs it. The K frames go in stacked as channels, so that one filter sees how a thing
moves from frame to frame, as in the frames image decoder's translator."""
import torch
from torch import nn
from torch.nn import functional as F

from storyseq.model.layers import conv_block

GRID = 8  # the scene is at most GRID x GRID tokens (fewer for targets under 4 * GRID pixels)
CHANNELS = 32  # width of the scene encoder's convolutions


class SceneEncoder(nn.Module):
    """frames (B, K, 3, S, S) -> scene tokens (B, G * G, token_dim), G = min(GRID, S // 4): two
    strided convolutions down to a quarter of the side and one more there (each output sees
    15 x 15 pixels), pooled to G x G cells; each cell is a token with a
    learned embedding of its place."""

    def __init__(self, k, target_size, token_dim):
        super().__init__()
        self.grid = min(GRID, target_size // 4)
        self.convs = nn.Sequential(conv_block(3 * k, CHANNELS, stride=2), conv_block(CHANNELS, CHANNELS, stride=2),
                                   conv_block(CHANNELS, CHANNELS))
        self.tokens = nn.Linear(CHANNELS, token_dim)
        self.place = nn.Parameter(torch.zeros(self.grid * self.grid, token_dim))

    def forward(self, frames):
        x = F.adaptive_avg_pool2d(self.convs(frames.flatten(1, 2)), self.grid)
        return self.tokens(x.flatten(2).transpose(1, 2)) + self.place
