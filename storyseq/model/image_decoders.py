"""Image decoders: frame K+1's picture from the story context and frames 1..K's pixels
(model.image_decoder).

- `frames` (FramePredictor), in the manner of SimVP (Gao et al., CVPR 2022): a convolutional
  encoder per input frame, a translator over the K frames' maps stacked as channels (at half
  and at a quarter of the side, so that it sees where a thing was two frames ago), steered by
  the story context (a per-channel scale and shift from the words), and a decoder beside frame
  K's full-resolution features. It reads where everything stands; the words say where it goes.
  It first repaints frame K where it changes in place (the gated blend below, aligned with frame
  K, so that when the whole scene's light changes the gate keeps each shape and repaints what is
  around it), then moves the result with a dynamic local filter (Jia et al., NeurIPS 2016): each
  pixel of frame K+1 is a learned per-pixel mix of TAPS x TAPS offsets, so a shape that moves
  keeps its colour instead of being painted again as a blur.
- `context` (ContextDecoder): paints from the story context alone and never reads the input
  frames' layout.

Both paint a colour image and a keep-gate and blend them with frame K's picture. The gate starts
near "keep", so a decoder starts from copying the last frame and learns where the scene changes."""
import torch
from torch import nn
from torch.nn import functional as F

KEEP_BIAS = 2.0  # the gate's initial logit: sigmoid(2) = 0.88 of frame K is kept
TAPS = 3  # the frames decoder moves each pixel by one of TAPS x TAPS offsets
REACH = 3 / 16  # its largest offset, as a share of the side


def _conv(c_in, c_out, stride=1, kernel=3):
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2), nn.GroupNorm(2, c_out),
                         nn.SiLU())


def _colour_and_gate(channels, kernel=3):
    """A convolution to a colour image and a keep-gate, the gate's bias set to keep."""
    head = nn.Conv2d(channels, 4, kernel, padding=kernel // 2)
    with torch.no_grad():
        head.bias[3] = KEEP_BIAS
    return head


def _blend(painted_logits, last_frame):
    painted = torch.sigmoid(painted_logits)
    colour, keep = painted[:, :3], painted[:, 3:]
    return keep * last_frame + (1 - keep) * colour


class FramePredictor(nn.Module):
    """(context (B, H), frames (B, K, 3, S, S)) -> frame K+1 (B, 3, S, S); S even.

    Each frame is encoded at half resolution; the K maps, stacked as channels, go through a
    translator steered by the context and are decoded to full resolution beside frame K's own
    features. From there come the painted colour and keep-gate that repaint frame K where it
    changes in place (a 1x1 convolution at full resolution), and the per-pixel weights of
    TAPS x TAPS offsets of the repainted frame (where each pixel of frame K+1 comes from, up to
    REACH of the side away)."""

    def __init__(self, hidden_dim, channels, k):
        super().__init__()
        self.encode = _conv(3, channels, stride=2)
        self.translate = Translator(k * channels, channels)
        self.scale_and_shift = nn.Linear(hidden_dim, 2 * channels)
        self.decode = nn.Sequential(nn.ConvTranspose2d(channels, channels // 2, 4, stride=2, padding=1), nn.SiLU())
        self.last_frame = _conv(3, channels // 2)
        self.head = _colour_and_gate(channels, kernel=1)
        self.taps = nn.Conv2d(channels, TAPS * TAPS, 1)
        with torch.no_grad():
            self.taps.bias[TAPS * TAPS // 2] = KEEP_BIAS * 2  # starts near "each pixel stays"

    def forward(self, context, frames):
        b, k, _, size, _ = frames.shape
        maps = self.encode(frames.flatten(0, 1))
        x = self.translate(maps.reshape(b, k * maps.shape[1], *maps.shape[2:]))
        scale, shift = self.scale_and_shift(context)[..., None, None].chunk(2, dim=1)
        x = torch.cat([self.decode(x * (1 + scale) + shift), self.last_frame(frames[:, -1])], dim=1)
        repainted = _blend(self.head(x), frames[:, -1])
        return _moved(repainted, self.taps(x).softmax(dim=1), max(1, round(REACH * size / (TAPS // 2))))


class Translator(nn.Module):
    """The K frames' half-resolution maps stacked as channels (B, c_in, S/2, S/2) -> (B, c_out,
    S/2, S/2): a 1x1 layer that mixes the frames at each position, a branch down to a quarter
    (two 3x3 layers there; its output upsampled and added), and a 3x3 layer to c_out. The branch
    widens what each position sees from about 7 to about 21 input pixels across, so that where
    a shape will stand, it sees where the shape stood in the last two frames: which way it
    walks."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.first = _conv(c_in, 2 * c_out, kernel=1)
        self.quarter = nn.Sequential(_conv(2 * c_out, 2 * c_out, stride=2), _conv(2 * c_out, 2 * c_out))
        self.last = _conv(2 * c_out, c_out)

    def forward(self, x):
        x = self.first(x)
        return self.last(x + F.interpolate(self.quarter(x), size=x.shape[-2:], mode="nearest"))


def _moved(image, weights, step):
    """Each pixel of `image` (B, 3, S, S) replaced by the weighted sum of its TAPS x TAPS offsets,
    `step` pixels apart; weights (B, TAPS * TAPS, S, S)."""
    size = image.shape[-1]
    padded = F.pad(image, (TAPS // 2 * step,) * 4, mode="replicate")
    shifted = torch.stack([padded[..., i * step:i * step + size, j * step:j * step + size]
                           for i in range(TAPS) for j in range(TAPS)], dim=2)
    return (shifted * weights[:, None]).sum(2)


class ContextDecoder(nn.Module):
    """(context (B, H), frames (B, K, 3, S, S)) -> frame K+1: context -> Linear -> ConvTranspose
    stack (channels halved per step, down to 8) -> colour and gate, blended with frame K."""

    def __init__(self, hidden_dim, size, channels, base=4):
        super().__init__()
        self.base, self.channels = base, channels
        self.fc = nn.Linear(hidden_dim, channels * base * base)
        layers, c = [], channels
        while base < size:
            out = max(c // 2, 8)
            layers += [nn.ConvTranspose2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
            c, base = out, base * 2
        self.paint = nn.Sequential(*layers, _colour_and_gate(c))

    def forward(self, context, frames):
        x = torch.relu(self.fc(context)).view(-1, self.channels, self.base, self.base)
        return _blend(self.paint(x), frames[:, -1])
