"""placement: does a predicted picture put each character where frame K+1 has it? Synthetic data only.

Frame K+1's chain-of-thought record (storyseq/data/synthetic.py) gives each character's colour,
column and row. In the predicted picture (at the target size, the frame squashed to a square),
each pixel of the character's row band weighs 1 - (its RGB distance to the character's colour)
/ 0.5, clipped at 0. The character is placed when the column cell with the most weight is its
true column (a tie is a miss). A window's score is the share of its characters placed; NaN
where the target frame has no generator record (real data) or no character."""
import numpy as np
import torch

from storyseq.data import synthetic

REACH = 0.5  # RGB distance (in [0, 1] units) at which a pixel stops counting for a colour


def column_weights(picture, colour, row):
    """Per column, the weight of `colour` in the row band of `row`, in a (3, T, T) picture."""
    size = picture.shape[-1]
    top = round((synthetic.ROW_Y[row] - synthetic.RADIUS) / synthetic.HEIGHT * size)
    bottom = round((synthetic.ROW_Y[row] + synthetic.RADIUS) / synthetic.HEIGHT * size)
    band = picture[:, top:bottom]
    target = torch.tensor(synthetic.COLOURS[colour], dtype=band.dtype)[:, None, None] / 255
    weight = (1 - (band - target).norm(dim=0) / REACH).clamp(min=0).sum(0)
    edges = [round(j * size / synthetic.COLUMNS) for j in range(synthetic.COLUMNS + 1)]
    return torch.stack([weight[a:b].sum() for a, b in zip(edges, edges[1:])])


def placed(picture, character):
    """Whether the picture's weight of the character's colour peaks in its true column, alone."""
    weights = column_weights(picture, character["colour"], character["row"])
    best = weights.max()
    return bool(best > 0 and (weights == best).sum() == 1 and weights[character["column"]] == best)


def placement(pictures, targets_shown):
    """Per window, the share of frame K+1's characters that the picture places (NaN: not scored);
    `targets_shown` holds what each window's frame K+1 shows (oracle.parse of its section; None
    where there is no record)."""
    scores = []
    for picture, shown in zip(pictures, targets_shown):
        cast = shown["cast"] if shown else []
        scores.append(np.mean([placed(picture, c) for c in cast]) if cast else np.nan)
    return np.array(scores, dtype=float)
