"""Seed sweeps on one big machine, outside dvc: train (the train stage's model and fit) and greedy
evaluation (the evaluate stage's predict and scores, without METEOR, which needs WordNet) for
every config x seed, in parallel processes. This produced README's seed-spread tables on a GPU
machine that has neither dvc nor dvclive; `python -m storyseq.compare` on a dvc queue is the
project's own way.

    python3 bench/seed_sweep.py CONFIGS_JSON SEEDS PROCS OUT_JSONL

CONFIGS_JSON is a list of {"name": ..., "over": {"train": {...}, "model": {...}}} params overrides.
Environment: SWEEP_DEVICE (cuda), SWEEP_THREADS (torch threads per process, 2), DATA (the folder
with features/, windows.parquet and frames.parquet: data), SAVE (a folder for each config's
seed-0 checkpoint), CAPTIONS (a folder for every run's captions, NAME-SEED.json, which
`bench/score_captions.py` scores with METEOR and intervals), TOKENIZER (a local tokenizer folder,
where the bundled MiniLM package is missing). Packages a GPU image lacks (nltk, rouge-score) can
come from .gpu/site."""
import json
import multiprocessing
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
sys.path.append(".gpu/site")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from storyseq.core import params as P  # noqa: E402
from storyseq.core.runtime import seed_everything  # noqa: E402
from storyseq.data.grounding import character_f1, window_characters  # noqa: E402
from storyseq.embedding import features  # noqa: E402
from storyseq.embedding.encoders import load_tokenizer  # noqa: E402
from storyseq.evaluation.decoding import Generation, predict  # noqa: E402
from storyseq.evaluation.scoring import _bleu_counts, corpus_bleu, normalise, rouge_l, words  # noqa: E402
from storyseq.model.dataset import (
    frame_values,  # noqa: E402
    load_windows,  # noqa: E402
)
from storyseq.model.story_model import StoryModel  # noqa: E402
from storyseq.model.training import TrainSettings, build, fit  # noqa: E402


def scores(captions, cache, test, folder, tokenizer):
    """Corpus BLEU-4, mean ROUGE-L and character F1 of the captions, and copy_last's BLEU-4."""
    texts = [normalise(x, tokenizer) for x in cache["texts"]]
    references = [texts[r] for r in test["target"].tolist()]
    tagged = frame_values(cache, "tagged_text", folder)

    def bleu(hypotheses):
        return corpus_bleu(np.array([_bleu_counts(words(r), words(h)) for r, h in zip(references, hypotheses)],
                                    dtype=float).sum(0))

    return {"bleu": bleu(captions), "rouge_l": float(np.mean(rouge_l(references, captions))),
            "character_f1": float(np.nanmean(character_f1(captions, window_characters(
                tagged, test, lambda x: normalise(x, tokenizer))))),
            "copy_last_bleu": bleu([texts[r] for r in test["inputs"][:, -1].tolist()])}


def one(job):
    """Train one config with one seed and score it on the test windows."""
    name, over, seed = job
    torch.set_num_threads(int(os.environ.get("SWEEP_THREADS", "2")))
    params = P.load("model", "train", "evaluate")
    for section, values in over.items():
        params[section].update(values)
    params.train["seed"] = seed
    seed_everything(seed)
    folder, device = os.environ.get("DATA", "data"), torch.device(os.environ.get("SWEEP_DEVICE", "cuda"))
    cache, meta = features.load(f"{folder}/features")
    windows = load_windows(f"{folder}/windows.parquet", cache)
    config, vocab = build(params.model, cache, meta, windows)
    model, on_device = StoryModel(config).to(device), features.on_device(cache, device)
    start = time.time()
    state, kept_epoch, _ = fit(model, on_device, windows["train"], windows["val"], vocab, TrainSettings.from_params(params.train))
    train_s = time.time() - start
    model.load_state_dict(state)
    if os.environ.get("SAVE") and seed == 0:
        torch.save({"config": asdict(config), "state": {k: v.cpu() for k, v in state.items()}, "vocab": vocab.ids,
                    "tokenizer": meta["tokenizer"]}, f"{os.environ['SAVE']}/{name}.pt")
    tokenizer = load_tokenizer(os.environ.get("TOKENIZER", meta["tokenizer"]))
    _, captions = predict(model.eval(), on_device, windows["test"], vocab, tokenizer,
                          replace(Generation.from_params(params.evaluate), beam_size=1))
    if os.environ.get("CAPTIONS"):
        Path(os.environ["CAPTIONS"], f"{name}-{seed}.json").write_text(json.dumps(captions))
    return {"name": name, "seed": seed, **scores(captions, cache, windows["test"], folder, tokenizer),
            "kept_epoch": kept_epoch, "train_s": train_s, "vocab": len(vocab)}


if __name__ == "__main__":
    configs, seeds, procs, out = json.loads(Path(sys.argv[1]).read_text()), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    jobs = [(c["name"], c.get("over", {}), s) for c in configs for s in range(seeds)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool, open(out, "w") as f:
        for result in pool.imap_unordered(one, jobs):
            f.write(json.dumps(result) + "\n")
            f.flush()
            print(json.dumps(result), flush=True)
