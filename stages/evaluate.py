"""evaluate: generate frame K+1 for every test window and score it beside the baselines, with
paired bootstrap intervals of model minus each baseline."""
import json

import numpy as np
import pyarrow.parquet as pq
import torch

from storyseq import features, params as P
from storyseq.atomic import atomic_path, write_json
from storyseq.baselines import constant_caption, copy_last, nearest_neighbor
from storyseq.bootstrap import paired_interval, story_weights
from storyseq.dataset import Vocabulary, load_windows
from storyseq.decoding import generate
from storyseq.encoders import load_tokenizer
from storyseq.errors import run_stage
from storyseq.features import target_pixels
from storyseq.grounding import character_f1, window_characters
from storyseq.model import load_checkpoint
from storyseq.runtime import seed_everything
from storyseq.scoring import image_stats, normalise, summarise, text_stats


def predict(model, cache, windows, vocab, tokenizer, ev, batch_size=256):
    """The model's (images, captions) for every window, generated autoregressively."""
    images, captions = [], []
    with torch.no_grad():
        for rows in windows["inputs"].split(batch_size):
            context, _ = model.window_context(cache["image_features"], cache["text_features"], rows)
            images.append(model.image_decoder(context, target_pixels(cache, rows[:, -1])))
            for seq in generate(model.text_decoder, context, vocab, ev["max_new_tokens"], ev["beam_size"]):
                captions.append(tokenizer.decode(vocab.decode(torch.tensor(seq, dtype=torch.long)).tolist(),
                                                 skip_special_tokens=True))
    return torch.cat(images), captions


def tagged_texts(cache):
    """The tagged text of each feature-cache row, from data/frames.parquet."""
    frames = pq.read_table("data/frames.parquet", columns=["story_id", "frame", "tagged_text"]).to_pydict()
    tagged = dict(zip(zip(frames["story_id"], frames["frame"]), frames["tagged_text"]))
    return [tagged[(sid, int(frame))] for sid, frame in zip(cache["story_ids"], cache["frames"])]


def baselines(cache, train, test, texts, targets):
    """(images, captions) of each baseline for the test windows."""
    outputs = {name: (targets[rows], [texts[r] for r in rows.tolist()])
               for name, rows in {"copy_last": copy_last(test), "nearest_neighbor": nearest_neighbor(cache, train, test)}.items()}
    n = len(test["target"])
    outputs["constant"] = (targets[train["target"]].mean(0).expand(n, -1, -1, -1),
                           [constant_caption([texts[r] for r in train["target"].tolist()])] * n)
    return outputs


def main():
    ev = P.load("evaluate").evaluate
    seed_everything(0)
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    train, test = windows["train"], windows["test"]
    model, checkpoint = load_checkpoint("models/model.pt")
    vocab, tokenizer = Vocabulary(checkpoint["vocab"]), load_tokenizer(checkpoint["tokenizer"])
    texts = [normalise(t, tokenizer) for t in cache["texts"]]
    targets = target_pixels(cache)
    references, n = [texts[r] for r in test["target"].tolist()], len(test["target"])
    outputs = {"model": predict(model, cache, test, vocab, tokenizer, ev), **baselines(cache, train, test, texts, targets)}
    characters = window_characters(tagged_texts(cache), test, lambda text: normalise(text, tokenizer))
    stats = {name: {**text_stats(references, captions), **image_stats(images, targets[test["target"]]),
                    "character_f1": character_f1(captions, characters)} for name, (images, captions) in outputs.items()}
    metrics = {"n_test_windows": n}
    for name, system in stats.items():
        metrics[name] = {**{k: v if v is None else round(v, 6) for k, v in summarise(system).items()},
                         "n_test_windows": n, "character_f1_windows": int(np.isfinite(system["character_f1"]).sum())}
    weights = story_weights(test["story_ids"], ev["bootstrap_samples"], ev["bootstrap_seed"])
    intervals = {"confidence": 0.95, "resamples": ev["bootstrap_samples"], "test_stories": len(set(test["story_ids"])),
                 **{f"model_minus_{name}": paired_interval(stats["model"], stats[name], weights)
                    for name in stats if name != "model"}}
    write_json("metrics/metrics.json", metrics)
    write_json("metrics/intervals.json", intervals)
    with atomic_path("plots/predictions.jsonl") as tmp, open(tmp, "w") as f:
        for i, (sid, row) in enumerate(zip(test["story_ids"], test["target"].tolist())):
            f.write(json.dumps({"story_id": sid, "target_frame": int(cache["frames"][row]), "reference": references[i],
                                **{name: outputs[name][1][i] for name in outputs}}) + "\n")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    run_stage(main)
