"""evaluate: generate frame K+1 for every test window and score it beside the baselines, with
paired bootstrap intervals of model minus each baseline."""
import json

import numpy as np
import pyarrow.parquet as pq

from storyseq import coco, features, params as P
from storyseq.atomic import atomic_path, write_json
from storyseq.baselines import constant_caption, copy_last, nearest_neighbor
from storyseq.bootstrap import paired_interval, story_weights
from storyseq.dataset import Vocabulary, load_windows
from storyseq.decoding import predict
from storyseq.encoders import load_tokenizer
from storyseq.errors import run_stage
from storyseq.features import target_pixels
from storyseq.grounding import character_f1, window_characters
from storyseq.model import load_checkpoint
from storyseq.runtime import resolve_device, seed_everything
from storyseq.scoring import image_stats, normalise, rouge_l, summarise, text_stats


def tagged_texts(cache):
    """The tagged text of each feature-cache row, from data/frames.parquet."""
    frames = pq.read_table("data/frames.parquet", columns=["story_id", "frame", "tagged_text"]).to_pydict()
    tagged = dict(zip(zip(frames["story_id"], frames["frame"]), frames["tagged_text"]))
    return [tagged[(sid, int(frame))] for sid, frame in zip(cache["story_ids"], cache["frames"])]


def baselines(on_device, train, test, texts, targets):
    """(images, captions) of each baseline for the test windows; the nearest-neighbour search
    runs on the device of `on_device`."""
    device = on_device["image_features"].device
    neighbors = nearest_neighbor(on_device, {k: train[k].to(device) for k in ("inputs", "target")},
                                 {"inputs": test["inputs"].to(device)}).cpu()
    outputs = {name: (targets[rows], [texts[r] for r in rows.tolist()])
               for name, rows in {"copy_last": copy_last(test), "nearest_neighbor": neighbors}.items()}
    n = len(test["target"])
    outputs["constant"] = (targets[train["target"]].mean(0).expand(n, -1, -1, -1),
                           [constant_caption([texts[r] for r in train["target"].tolist()], rouge_l)] * n)
    return outputs


def main():
    ev = P.load("evaluate").evaluate
    device = resolve_device(ev["device"], "evaluate.device")
    seed_everything(0)
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    train, test = windows["train"], windows["test"]
    model, checkpoint = load_checkpoint("models/model.pt")
    vocab, tokenizer = Vocabulary(checkpoint["vocab"]), load_tokenizer(checkpoint["tokenizer"])
    texts = [normalise(t, tokenizer) for t in cache["texts"]]
    targets = target_pixels(cache)
    references, n = [texts[r] for r in test["target"].tolist()], len(test["target"])
    on_device = features.on_device(cache, device)
    outputs = {"model": predict(model.to(device), on_device, test, vocab, tokenizer, ev["max_new_tokens"],
                                ev["beam_size"]),
               **baselines(on_device, train, test, texts, targets)}
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
    raw_references = [cache["texts"][r] for r in test["target"].tolist()]
    write_json("metrics/coco.json", coco.report(ev, test["story_ids"], raw_references,
                                                {name: captions for name, (_, captions) in outputs.items()}))
    with atomic_path("plots/predictions.jsonl") as tmp, open(tmp, "w") as f:
        for i, (sid, row) in enumerate(zip(test["story_ids"], test["target"].tolist())):
            f.write(json.dumps({"story_id": sid, "target_frame": int(cache["frames"][row]), "reference": references[i],
                                **{name: outputs[name][1][i] for name in outputs}}) + "\n")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    run_stage(main)
