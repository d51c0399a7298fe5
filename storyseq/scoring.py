"""Text and image scores. Both sides of every text comparison get the same normalisation:
a round trip through the target tokenizer (lower case, no accents, WordPiece merged back),
then words and punctuation split by one regular expression."""
import math
import re

import torch
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
from nltk.translate.meteor_score import meteor_score
from rouge_score import rouge_scorer

WORD = re.compile(r"\w+|[^\w\s]")


def normalise(text, tokenizer):
    """The text as the tokenizer would give it back, e.g. 'The Red  Circle.' -> 'the red circle.'"""
    return tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"], skip_special_tokens=True)


def words(text):
    return WORD.findall(text.lower())


def text_scores(references, hypotheses):
    """Corpus BLEU-4 (nltk, smoothing method 1), mean ROUGE-L F1 (stemmed) and mean METEOR."""
    refs, hyps = [words(r) for r in references], [words(h) for h in hypotheses]
    bleu = corpus_bleu([[r] for r in refs], hyps, smoothing_function=SmoothingFunction().method1)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(r, h)["rougeL"].fmeasure for r, h in zip(references, hypotheses)]
    meteor = [meteor_score([r], h) for r, h in zip(refs, hyps)]
    return {"bleu": bleu, "rouge_l": sum(rouge) / len(rouge), "meteor": sum(meteor) / len(meteor)}


def image_scores(predicted, target):
    """MSE over all pixels in [0, 1], and the PSNR (dB) of that MSE."""
    mse = torch.mean((predicted.float() - target.float()) ** 2).item()
    return {"image_mse": mse, "image_psnr": 10 * math.log10(1 / max(mse, 1e-12))}
