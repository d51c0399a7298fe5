"""evaluate: generate frame K+1 for every test window and score it beside the baselines."""
import json

import torch

from storyseq import features, params as P
from storyseq.features import target_pixels
from storyseq.atomic import atomic_path, write_json
from storyseq.baselines import copy_last, nearest_neighbor
from storyseq.dataset import Vocabulary, load_windows
from storyseq.decoding import generate
from storyseq.encoders import load_tokenizer
from storyseq.errors import run_stage
from storyseq.model import load_checkpoint
from storyseq.runtime import seed_everything
from storyseq.scoring import image_scores, normalise, text_scores


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


def main():
    ev = P.load("evaluate").evaluate
    seed_everything(0)
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    test = windows["test"]
    model, checkpoint = load_checkpoint("models/model.pt")
    vocab, tokenizer = Vocabulary(checkpoint["vocab"]), load_tokenizer(checkpoint["tokenizer"])
    texts = [normalise(t, tokenizer) for t in cache["texts"]]
    targets = target_pixels(cache)
    references = [texts[r] for r in test["target"].tolist()]
    images, captions = predict(model, cache, test, vocab, tokenizer, ev)
    outputs = {"model": (images, captions)}
    for name, rows in {"copy_last": copy_last(test), "nearest_neighbor": nearest_neighbor(cache, windows["train"], test)}.items():
        outputs[name] = (targets[rows], [texts[r] for r in rows.tolist()])
    n = len(references)
    metrics = {"n_test_windows": n}
    for name, (system_images, system_captions) in outputs.items():
        scores = {**text_scores(references, system_captions), **image_scores(system_images, targets[test["target"]])}
        metrics[name] = {**{k: round(v, 6) for k, v in scores.items()}, "n_test_windows": n}
    write_json("metrics/metrics.json", metrics)
    with atomic_path("plots/predictions.jsonl") as tmp, open(tmp, "w") as f:
        for i, (sid, row) in enumerate(zip(test["story_ids"], test["target"].tolist())):
            f.write(json.dumps({"story_id": sid, "target_frame": int(cache["frames"][row]), "reference": references[i],
                                **{name: outputs[name][1][i] for name in outputs}}) + "\n")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    run_stage(main)
