"""Bootstrap intervals over test stories: draw stories with replacement, score every system on
the same draw, and take percentiles. Stories, not windows, are resampled: the windows of one
story overlap and are not independent."""
import numpy as np

from storyseq.evaluation.scoring import summarise


def story_weights(story_ids, n_resamples, seed):
    """(n_resamples, W): how many times each window's story is drawn in each resample."""
    stories, story_of = np.unique(np.asarray(story_ids), return_inverse=True)
    draws = np.random.default_rng(seed).integers(0, len(stories), size=(n_resamples, len(stories)))
    counts = np.stack([np.bincount(row, minlength=len(stories)) for row in draws])
    return counts[:, story_of]


def percentiles(draws, confidence=0.95):
    """(low, high): the central `confidence` interval of the draws, rounded to 6 places."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return round(float(low), 6), round(float(high), 6)


def _scored(stats, w=None):
    return {k: v for k, v in summarise(stats, w).items() if v is not None}


def score_interval(system, weights, confidence=0.95):
    """{score: {low, high}}: the central `confidence` interval of each score of one system over
    the resamples given by `weights`."""
    draws = [_scored(system, w) for w in weights]
    return {k: dict(zip(("low", "high"), percentiles([d[k] for d in draws if k in d], confidence)))
            for k in _scored(system)}


def paired_interval(model, baseline, weights, confidence=0.95):
    """{score: {difference, low, high}}: model minus baseline on all windows, and the central
    `confidence` interval of that difference over the resamples given by `weights`; rounded to 6 places."""
    def difference(w=None):
        ours, theirs = _scored(model, w), _scored(baseline, w)
        return {k: ours[k] - theirs[k] for k in ours if k in theirs}

    observed, draws = difference(), [difference(w) for w in weights]
    return {k: dict(zip(("low", "high"), percentiles([d[k] for d in draws if k in d], confidence)),
                    difference=round(value, 6)) for k, value in observed.items()}
