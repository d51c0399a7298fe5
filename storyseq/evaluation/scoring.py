"""Text and image scores, kept per window so that the bootstrap can rescore resamples of
the test stories cheaply. Both sides of every text comparison get the same normalisation:
a round trip through the target tokenizer (lower case, no accents, WordPiece merged back),
then words and punctuation split by one regular expression."""
import json
import math
import re

import numpy as np
from nltk.translate.bleu_score import SmoothingFunction, brevity_penalty, modified_precision
from nltk.translate.meteor_score import meteor_score
from pytorch_msssim import ssim
from rouge_score import rouge_scorer

WORD = re.compile(r"\w+|[^\w\s]")
BLEU_ORDER = 4


def normalise(text, tokenizer):
    """The text as the tokenizer would give it back, e.g. 'The Red  Circle.' -> 'the red circle.'"""
    return tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"], skip_special_tokens=True)


def words(text):
    return WORD.findall(text.lower())


def rouge_l(references, hypotheses):
    """ROUGE-L F1 of each pair (rouge-score, Porter stemmer)."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(r, h)["rougeL"].fmeasure for r, h in zip(references, hypotheses)]


def _bleu_counts(reference, hypothesis):
    """nltk's corpus-BLEU counts of one pair: n-gram matches and totals for n = 1..4, then the
    hypothesis and reference lengths."""
    precisions = [modified_precision([reference], hypothesis, n) for n in range(1, BLEU_ORDER + 1)]
    return [p.numerator for p in precisions] + [p.denominator for p in precisions] + [len(hypothesis), len(reference)]


def text_stats(references, hypotheses):
    """Per-window statistics of the text scores: BLEU counts (W, 10), ROUGE-L F1 and METEOR (W,)."""
    refs, hyps = [words(r) for r in references], [words(h) for h in hypotheses]
    return {"bleu": np.array([_bleu_counts(r, h) for r, h in zip(refs, hyps)], dtype=float),
            "rouge_l": np.array(rouge_l(references, hypotheses)),
            "meteor": np.array([meteor_score([r], h) for r, h in zip(refs, hyps)])}


def image_stats(predicted, target):
    """Per-window image scores of pictures in [0, 1]: MSE and MAE over the pixels, and SSIM from
    pytorch-msssim with data_range=1 (its default is 255), an 11-pixel Gaussian window of sigma
    1.5 and K = (0.01, 0.03), averaged over the three channels."""
    error = predicted.double() - target.double()
    return {"image_mse": (error ** 2).flatten(1).mean(1).numpy(), "image_mae": error.abs().flatten(1).mean(1).numpy(),
            "image_ssim": ssim(predicted.float(), target.float(), data_range=1.0, size_average=False).double().numpy()}


def corpus_bleu(counts):
    """nltk's corpus BLEU-4 with smoothing method 1, from the summed counts of _bleu_counts."""
    matches, totals = counts[:BLEU_ORDER], counts[BLEU_ORDER:2 * BLEU_ORDER]
    if matches[0] == 0:
        return 0.0
    epsilon = SmoothingFunction().epsilon
    log_precision = sum(math.log((m if m else epsilon) / t) for m, t in zip(matches, totals)) / BLEU_ORDER
    return brevity_penalty(counts[-1], counts[-2]) * math.exp(log_precision)


def summarise(stats, weights=None):
    """Every score of the per-window statistics, each window counted weights[i] times (default
    once; a bootstrap resample otherwise). BLEU is corpus-level; character_f1 and placement are
    means over the windows they score (None when there are none); every other score is a mean;
    and PSNR = 10 log10(1 / MSE)."""
    n = len(next(iter(stats.values())))
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    scores = {}
    for name, values in stats.items():
        if name == "bleu":
            scores[name] = corpus_bleu(w @ values)
        elif name in ("character_f1", "placement"):
            scored = ~np.isnan(values)
            total = w[scored].sum()
            scores[name] = float(w[scored] @ values[scored] / total) if total else None
        else:
            scores[name] = float(w @ values / w.sum())
    if "image_mse" in scores:
        scores["image_psnr"] = 10 * math.log10(1 / max(scores["image_mse"], 1e-12))
    return scores


def window_lines(story_ids, target_frames, stats):
    """JSON lines of per-window statistics, one per window: story_id, target_frame, the BLEU
    counts and every other score (null where it is NaN: a window character F1 does not score)."""
    for i, (story_id, frame) in enumerate(zip(story_ids, target_frames)):
        scores = {k: None if math.isnan(v[i]) else float(v[i]) for k, v in stats.items() if k != "bleu"}
        yield json.dumps({"story_id": story_id, "target_frame": int(frame),
                          "bleu": [int(c) for c in stats["bleu"][i]], **scores}) + "\n"


def read_window_lines(lines):
    """(story_ids, target_frames, stats) from window_lines' output: stats as text_stats and
    image_stats give them (null -> NaN), ready for summarise."""
    rows = [json.loads(line) for line in lines if line.strip()]
    keys = [k for k in rows[0] if k not in ("story_id", "target_frame")]
    stats = {k: np.array([row[k] for row in rows], dtype=float) for k in keys}
    return [row["story_id"] for row in rows], [row["target_frame"] for row in rows], stats
