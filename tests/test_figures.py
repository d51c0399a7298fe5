"""The figures people look at first."""
import random

import torch

from storyseq.evaluation import figures

WORDS = "the man in the grey coat looks at the letter and then turns toward the window".split()


def test_real_length_captions_stay_inside_their_own_strip():
    """50-90-word captions wrap in their strip's text band: no text overlaps another strip."""
    rng = random.Random(0)
    examples = [{"inputs": torch.rand(4, 3, 32, 32), "target": torch.rand(3, 32, 32), "predicted": torch.rand(3, 32, 32),
                 "ssim": 0.5, "story_id": f"story-{i}", "frame": 5 + i,
                 "reference": " ".join(rng.choices(WORDS, k=rng.randint(50, 90))),
                 "generated": " ".join(rng.choices(WORDS, k=rng.randint(50, 90)))} for i in range(4)]
    fig = figures.strips_figure(examples)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    strips = fig.subfigs
    for i, strip in enumerate(strips):
        texts = [t for ax in strip.axes for t in ax.texts] + [ax.title for ax in strip.axes if ax.get_title()]
        assert len(texts) >= 7
        for text in texts:
            box = text.get_window_extent(renderer)
            for j, other in enumerate(strips):
                if j != i:
                    for ax in other.axes:
                        assert not box.overlaps(ax.get_window_extent(renderer)), (i, j, text.get_text()[:40])
                    assert not any(box.overlaps(t.get_window_extent(renderer)) for ax in other.axes for t in ax.texts)
