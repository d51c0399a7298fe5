"""evaluate: generate frame K+1 for every test window and score it beside the baselines."""
import json

from storyseq import features, params as P
from storyseq.atomic import atomic_path, write_json
from storyseq.baselines import copy_last, nearest_neighbor
from storyseq.dataset import Vocabulary, load_windows
from storyseq.decoding import predict
from storyseq.encoders import load_tokenizer
from storyseq.errors import run_stage
from storyseq.features import target_pixels
from storyseq.model import load_checkpoint
from storyseq.runtime import resolve_device, seed_everything
from storyseq.scoring import image_scores, normalise, text_scores


def main():
    ev = P.load("evaluate").evaluate
    device = resolve_device(ev["device"], "evaluate.device")
    seed_everything(0)
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    test = windows["test"]
    model, checkpoint = load_checkpoint("models/model.pt")
    vocab, tokenizer = Vocabulary(checkpoint["vocab"]), load_tokenizer(checkpoint["tokenizer"])
    texts = [normalise(t, tokenizer) for t in cache["texts"]]
    targets = target_pixels(cache)
    references = [texts[r] for r in test["target"].tolist()]
    on_device = features.on_device(cache, device)
    images, captions = predict(model.to(device), on_device, test, vocab, tokenizer, ev["max_new_tokens"],
                               ev["beam_size"])
    train = {k: windows["train"][k].to(device) for k in ("inputs", "target")}
    neighbors = nearest_neighbor(on_device, train, {"inputs": test["inputs"].to(device)}).cpu()
    outputs = {"model": (images, captions)}
    for name, rows in {"copy_last": copy_last(test), "nearest_neighbor": neighbors}.items():
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
