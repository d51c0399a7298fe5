"""evaluate: generate frame K+1 for every test window and score it beside the baselines, with
bootstrap intervals over test stories: of each system's scores, and of model minus each baseline.
Writes the model's scores (the one metrics file), the baselines' scores, the intervals, the
model's per-window statistics (for storyseq.compare) and the captions of every system."""
import json

import numpy as np

from storyseq.core import params as P
from storyseq.core.atomic import atomic_path, write_json
from storyseq.core.errors import run_stage
from storyseq.core.progress import tqdm
from storyseq.core.runtime import resolve_device, seed_everything
from storyseq.data.grounding import character_f1, window_characters
from storyseq.embedding import features
from storyseq.embedding.encoders import load_tokenizer
from storyseq.embedding.features import target_pixels
from storyseq.evaluation import coco, oracle
from storyseq.evaluation.baselines import constant_caption, copy_last, nearest_neighbor
from storyseq.evaluation.bootstrap import paired_interval, score_interval, story_weights
from storyseq.evaluation.decoding import Generation, predict
from storyseq.evaluation.placement import placement
from storyseq.evaluation.report import NAMES, fmt, markdown
from storyseq.evaluation.scoring import image_stats, normalise, rouge_l, summarise, text_stats, window_lines
from storyseq.model.dataset import Vocabulary, frame_values, load_windows
from storyseq.model.story_model import load_checkpoint

SCORE_CHUNK = 64  # windows scored between two updates of the progress bar
# The least lead of the oracle over copy_last for which a share of the way is reported: a
# smaller gap makes the ratio noise.
ORACLE_LEAD = {"bleu": 0.05, "rouge_l": 0.05, "meteor": 0.05, "character_f1": 0.05, "image_mse": 0.001,
               "image_ssim": 0.05, "placement": 0.05}


def oracle_shares(scores):
    """Each score's share of the way from copy_last to the oracle, (model - copy_last) /
    (oracle - copy_last), where the oracle leads copy_last by at least ORACLE_LEAD (else None)."""
    floor, ceiling = scores["copy_last"], scores["oracle"]
    sign = {"image_mse": -1}  # lower is better
    return {k: round((scores["model"][k] - floor[k]) / (ceiling[k] - floor[k]), 4)
            if None not in (floor[k], ceiling[k]) and sign.get(k, 1) * (ceiling[k] - floor[k]) >= lead else None
            for k, lead in ORACLE_LEAD.items()}


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


def scored(references, captions, images, targets, characters, targets_shown, bar):
    """Per-window statistics of one system, SCORE_CHUNK windows at a time."""
    parts = []
    for i in range(0, len(references), SCORE_CHUNK):
        part = slice(i, i + SCORE_CHUNK)
        parts.append({**text_stats(references[part], captions[part]), **image_stats(images[part], targets[part]),
                      "character_f1": character_f1(captions[part], characters[part]),
                      "placement": placement(images[part], targets_shown[part])})
        bar.update(len(references[part]))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


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
    reasoning = frame_values(cache, "reasoning")
    characters = window_characters(frame_values(cache, "tagged_text"), test, lambda text: normalise(text, tokenizer))
    best = oracle.predictions([[reasoning[r] for r in rows] for rows in test["inputs"].tolist()], meta["target_size"])
    with tqdm(total=(5 + (best is not None)) * n, desc="evaluate: generate and score", unit="window") as bar:
        outputs = {"model": predict(model.to(device), on_device, test, vocab, tokenizer, Generation.from_params(ev),
                                    progress=bar.update),
                   **baselines(on_device, train, test, texts, targets)}
        if best is not None:
            outputs["oracle"] = (best[0], [normalise(caption, tokenizer) for caption in best[1]])
        targets_shown = [oracle.parse(reasoning[r]) for r in test["target"].tolist()]  # for scoring only
        stats = {name: scored(references, captions, images, targets[test["target"]], characters, targets_shown, bar)
                 for name, (images, captions) in outputs.items()}
    scores = {name: {k: v if v is None else round(v, 6) for k, v in summarise(system).items()}
              for name, system in stats.items()}
    weights = story_weights(test["story_ids"], ev["bootstrap_samples"], ev["bootstrap_seed"])
    intervals = {"confidence": 0.95, "scores": {name: score_interval(stats[name], weights) for name in stats},
                 **{f"model_minus_{name}": paired_interval(stats["model"], stats[name], weights)
                    for name in stats if name != "model"}}
    frames = [int(cache["frames"][row]) for row in test["target"].tolist()]
    if "oracle" in scores:
        scores["model"]["share_copy_last_to_oracle"] = oracle_shares(scores)
    write_json("metrics/scores.json", scores["model"])
    write_json("metrics/baselines.json", {name: scores[name] for name in scores if name != "model"})
    write_json("metrics/intervals.json", intervals)
    with atomic_path("plots/window_scores.jsonl") as tmp, open(tmp, "w") as f:
        f.writelines(window_lines(test["story_ids"], frames, stats["model"]))
    raw_references = [cache["texts"][r] for r in test["target"].tolist()]
    write_json("metrics/coco.json", coco.report(ev, test["story_ids"], raw_references,
                                                {name: captions for name, (_, captions) in outputs.items()}))
    with atomic_path("plots/predictions.jsonl") as tmp, open(tmp, "w") as f:
        for i, (sid, frame) in enumerate(zip(test["story_ids"], frames)):
            f.write(json.dumps({"story_id": sid, "target_frame": frame, "reference": references[i],
                                **{name: outputs[name][1][i] for name in outputs}}) + "\n")
    if scores["model"]["placement"] is None:
        print("evaluate: placement needs the synthetic generator's record of frame K+1; null for this source")
    print(f"evaluate: {n} test windows of {len(set(test['story_ids']))} stories; scores on the test split:")
    print(markdown(["system", *NAMES.values()], [[name, *(fmt(k, s[k]) for k in NAMES)] for name, s in scores.items()]))


if __name__ == "__main__":
    run_stage(main)
