"""character_f1: does a caption name the characters of frame K+1? Id-based, from the tags.

- Reference: the charN ids tagged anywhere in frame K+1 (each id of a grouped tag counts).
- Names: the texts of the single-id <gdo charN> tags in the K input frames, compared in
  lower case as whole words; pronouns and other function words are not names.
- Predicted: the ids whose names occur in the caption. A character first seen in frame K+1
  has no name yet, so no caption can name it: it costs recall."""
import math
import re

import numpy as np

from storyseq.data.markup import NAME_TAG, plain_text
from storyseq.evaluation.scoring import words

OPEN_TAG = re.compile(r"<gd[a-z]\s+([^>]*)>")
CHARACTER = re.compile(r"char\d+")
FUNCTION_WORDS = frozenset(
    "i me my mine myself you your yours yourself he him his himself she her hers herself it its itself "
    "we us our ours ourselves they them their theirs themselves one who whom whose this that these those "
    "someone somebody everyone everybody both each all another other others the a an".split())


def characters(tagged):
    """The charN ids tagged anywhere in a frame's tagged text."""
    return {i for ids in OPEN_TAG.findall(tagged) for i in ids.split() if CHARACTER.fullmatch(i)}


def names(tagged_frames, normalise=str):
    """{charN: {name, ...}} from the single-id <gdo charN> tags of the frames: each tag's text
    through `normalise` (the captions' normalisation), as lower-case words; function words dropped."""
    found = {}
    for tagged in tagged_frames:
        for cid, text in NAME_TAG.findall(tagged):
            name = " ".join(words(normalise(plain_text(text))))
            if name and name not in FUNCTION_WORDS:
                found.setdefault(cid, set()).add(name)
    return found


def named(caption, names_of):
    """The ids whose names occur in the caption as whole words."""
    text = f" {' '.join(words(caption))} "
    return {cid for cid, options in names_of.items() if any(f" {name} " in text for name in options)}


def f1(predicted, reference):
    """F1 of the predicted ids against the reference ids; NaN (not scored) when the reference is empty."""
    if not reference:
        return math.nan
    return 2 * len(predicted & reference) / (len(predicted) + len(reference))


def window_characters(tagged, windows, normalise=str):
    """Per window: (names from its K input frames, reference ids of its target frame); `tagged`
    holds the tagged text of each feature-cache row."""
    return [(names([tagged[r] for r in inputs], normalise), characters(tagged[target]))
            for inputs, target in zip(windows["inputs"].tolist(), windows["target"].tolist())]


def character_f1(captions, per_window):
    """Per-window F1 of each caption against window_characters' (names, reference) pairs (NaN: not scored)."""
    return np.array([f1(named(caption, names_of), reference)
                     for caption, (names_of, reference) in zip(captions, per_window)])
