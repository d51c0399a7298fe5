"""Score the captions a seed sweep saved (`CAPTIONS=folder python3 bench/seed_sweep.py ...`) as the
evaluate stage does, METEOR included, with each run minus copy_last and its 95% paired bootstrap
interval over test stories; then mean ± sd per config. Run it in the project whose data/ the sweep
read (features, windows, frames):

    python bench/score_captions.py FOLDER"""
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from storyseq.core import params as P  # noqa: E402
from storyseq.data.grounding import character_f1, window_characters  # noqa: E402
from storyseq.embedding import features  # noqa: E402
from storyseq.embedding.encoders import load_tokenizer  # noqa: E402
from storyseq.evaluation.bootstrap import paired_interval, story_weights  # noqa: E402
from storyseq.evaluation.scoring import normalise, summarise, text_stats  # noqa: E402
from storyseq.model.dataset import (
    frame_values,  # noqa: E402
    load_windows,  # noqa: E402
)

KEYS = ("bleu", "rouge_l", "meteor", "character_f1")


def main(folder):
    ev = P.load("evaluate").evaluate
    cache, meta = features.load("data/features")
    test = load_windows("data/windows.parquet", cache)["test"]
    tokenizer = load_tokenizer(meta["tokenizer"])
    texts = [normalise(t, tokenizer) for t in cache["texts"]]
    references = [texts[r] for r in test["target"].tolist()]
    characters = window_characters(frame_values(cache, "tagged_text"), test, lambda t: normalise(t, tokenizer))
    weights = story_weights(test["story_ids"], ev["bootstrap_samples"], ev["bootstrap_seed"])

    def stats(captions):
        return {**text_stats(references, captions), "character_f1": character_f1(captions, characters)}

    copy_last = stats([texts[r] for r in test["inputs"][:, -1].tolist()])
    print(json.dumps({"name": "copy_last", **{k: round(summarise(copy_last)[k], 4) for k in KEYS}}))
    groups = defaultdict(list)
    for path in sorted(Path(folder).glob("*.json")):
        name, seed = re.fullmatch(r"(.+)-(\d+)", path.stem).groups()
        run = stats(json.loads(path.read_text()))
        scores, minus = summarise(run), paired_interval(run, copy_last, weights)
        groups[name].append([scores[k] for k in KEYS])
        print(json.dumps({"name": name, "seed": int(seed), **{k: round(scores[k], 4) for k in KEYS},
                          "minus_copy_last": {k: minus[k] for k in KEYS}}), flush=True)
    for name, rows in groups.items():
        rows = np.array(rows)
        sds = rows.std(0, ddof=1) if len(rows) > 1 else np.full(len(KEYS), np.nan)
        print(f"{name}: {len(rows)} seeds, " + ", ".join(
            f"{k} {m:.3f} ± {s:.3f}" for k, m, s in zip(KEYS, rows.mean(0), sds)))


if __name__ == "__main__":
    main(sys.argv[1])
