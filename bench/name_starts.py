"""Why a caption leaves out a character who is still on stage. For each character tagged in both
frame K and frame K+1 of a test window, with a name in frames 1..K, it reads the trained model
with the reference's own prefix (teacher forcing) where the reference starts that name: the
probability of the name's first piece, of the rest of the name after it, the copy decoder's
probability of copying, and its attention on the positions that hold the first piece. A low first
piece with a high copy probability and little attention on the name means the decoder copies
from the wrong place (another sentence's start), not that it cannot copy the name. These are
continuous, so they separate two decoders on fewer seeds than character F1. Run in a project
after `dvc repro` (or give a seed sweep's SAVE checkpoint):

    python bench/name_starts.py [CHECKPOINT]"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from storyseq.data.grounding import characters, window_characters  # noqa: E402
from storyseq.embedding import features  # noqa: E402
from storyseq.embedding.encoders import load_tokenizer  # noqa: E402
from storyseq.evaluation.decoding import input_captions  # noqa: E402
from storyseq.evaluation.scoring import normalise  # noqa: E402
from storyseq.model.dataset import (  # noqa: E402
    Vocabulary,
    frame_values,  # noqa: E402
    load_windows,
)
from storyseq.model.story_model import load_checkpoint  # noqa: E402
from storyseq.model.text_decoders import CopyDecoder  # noqa: E402
from storyseq.model.training import Targets  # noqa: E402


def find(ids, pieces):
    """First position of the run `pieces` in `ids`, or None."""
    return next((s for s in range(len(ids) - len(pieces) + 1) if ids[s:s + len(pieces)] == pieces), None)


@torch.no_grad()
def name_starts(model, cache, test, vocab, tokenizer, tagged):
    """Rows (P(first piece), P(rest | first piece), P(copy), attention on the first piece)."""
    per_window = window_characters(tagged, test, lambda t: normalise(t, tokenizer))
    targets, rows, decoder = Targets(cache, vocab, "cpu"), [], model.text_decoder
    for i, (names, reference) in enumerate(per_window):
        inputs, target = test["inputs"][i:i + 1], test["target"][i:i + 1]
        on_stage = [c for c in reference & characters(tagged[int(inputs[0, -1])]) if c in names]
        if not on_stage:
            continue
        context, _ = model.window_context(cache["image_features"], cache["text_features"], inputs)
        caption = targets.captions(target, target)
        state = decoder.start(context, input_captions(cache, inputs, vocab.special_id(vocab.pad)), vocab)
        nll = decoder.nll(state, caption[:, :-1], caption[:, 1:], vocab)[0]
        _, attention, _, log_copy, _ = decoder._run(state, caption[:, :-1], vocab)
        ids, source = caption[0, 1:].tolist(), state["source"][0]
        for c in on_stage:
            pieces = tokenizer(sorted(names[c])[0], add_special_tokens=False)["input_ids"]
            s = find(ids, pieces)
            if s is None:
                continue
            rows.append((float(torch.exp(-nll[s])), float(torch.exp(-nll[s + 1:s + len(pieces)].sum())),
                         float(log_copy[0, s].exp()), float(attention[0, s][source == pieces[0]].sum())))
    return np.array(rows)


def main(checkpoint):
    model, saved = load_checkpoint(checkpoint)
    if not isinstance(model.text_decoder, CopyDecoder):
        sys.exit(f"name_starts: {checkpoint} has the gru text decoder; this reads the copy decoder's attention")
    cache, _ = features.load("data/features")
    test = load_windows("data/windows.parquet", cache)["test"]
    rows = name_starts(model, cache, test, Vocabulary(saved["vocab"]), load_tokenizer(saved["tokenizer"]),
                       frame_values(cache, "tagged_text"))
    first, rest, copy, attention = rows.T
    print(f"{len(rows)} on-stage names: P(first piece) mean {first.mean():.3f}, above 1/2 for "
          f"{(first > 0.5).mean():.1%}; P(rest | first) mean {rest.mean():.3f}")
    print(f"where P(first piece) < 1/2 ({(first < 0.5).sum()}): P(copy) mean {copy[first < 0.5].mean():.3f}, "
          f"attention on the first piece mean {attention[first < 0.5].mean():.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/model.pt")
