"""Paired bootstrap intervals over test stories: draw stories with replacement, score the
model and a baseline on the same draw, and take percentiles of the difference. Stories, not
windows, are resampled: the windows of one story overlap and are not independent."""
import numpy as np

from storyseq.scoring import summarise


def story_weights(story_ids, n_resamples, seed):
    """(n_resamples, W): how many times each window's story is drawn in each resample."""
    stories, story_of = np.unique(np.asarray(story_ids), return_inverse=True)
    draws = np.random.default_rng(seed).integers(0, len(stories), size=(n_resamples, len(stories)))
    counts = np.stack([np.bincount(row, minlength=len(stories)) for row in draws])
    return counts[:, story_of]


def paired_interval(model, baseline, weights, confidence=0.95):
    """{score: {difference, low, high}}: model minus baseline on all windows, and the central
    `confidence` interval of that difference over the resamples given by `weights`; rounded to 6 places."""
    def difference(w=None):
        ours, theirs = summarise(model, w), summarise(baseline, w)
        return {k: ours[k] - theirs[k] for k in ours if ours[k] is not None and theirs[k] is not None}

    observed, draws = difference(), [difference(w) for w in weights]
    tail = (1 - confidence) / 2 * 100
    intervals = {}
    for k, value in observed.items():
        low, high = np.percentile([d[k] for d in draws if k in d], [tail, 100 - tail])
        intervals[k] = {"difference": round(value, 6), "low": round(float(low), 6), "high": round(float(high), 6)}
    return intervals
