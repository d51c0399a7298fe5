"""plot: figures for people and the small CSV behind dvc's model-vs-baselines plots: each system's
scores with their bootstrap intervals over test stories (.dvc/plots/bar_interval.json draws them)."""
import csv
import json
from collections import Counter

import torch

from storyseq.core import params as P
from storyseq.core.atomic import atomic_path
from storyseq.core.errors import run_stage
from storyseq.core.live import read_history
from storyseq.core.runtime import resolve_device
from storyseq.embedding import features
from storyseq.embedding.features import target_pixels
from storyseq.evaluation import figures
from storyseq.evaluation.decoding import model_outputs
from storyseq.model.dataset import load_windows
from storyseq.model.story_model import load_checkpoint

SCORES = ("bleu", "rouge_l", "meteor", "character_f1", "image_mse", "image_psnr", "image_mae", "image_ssim",
          "placement")


def main():
    params = P.load("plot").plot
    n_examples = params["n_examples"]
    cache, meta = features.load("data/features")
    test = load_windows("data/windows.parquet", cache)["test"]
    model, _ = load_checkpoint("models/model.pt")
    scores = {"model": json.load(open("metrics/scores.json")), **json.load(open("metrics/baselines.json"))}
    intervals = json.load(open("metrics/intervals.json"))["scores"]
    predictions = [json.loads(line) for line in open("plots/predictions.jsonl")]
    history = read_history()
    images = target_pixels(cache)

    with atomic_path("plots/scores.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["system", *(f"{k}{end}" for k in SCORES for end in ("", "_low", "_high"))])
        writer.writeheader()
        writer.writerows({"system": s, **{k: scores[s][k] for k in SCORES},
                          **{f"{k}_{end}": intervals[s].get(k, {}).get(end) for k in SCORES for end in ("low", "high")}}
                         for s in scores)  # the oracle where there is one; a score with no window has no interval

    device = resolve_device(params["device"], "plot.device")
    views = model_outputs(model.to(device), features.on_device(cache, device), test)
    picks = torch.linspace(0, len(test["target"]) - 1, n_examples).round().long().tolist()
    ssim = [json.loads(line)["image_ssim"] for line in open("plots/window_scores.jsonl")]
    examples = [{"inputs": images[test["inputs"][i]], "target": images[test["target"][i]],
                 "predicted": views["predicted"][i], "ssim": ssim[i],
                 "story_id": predictions[i]["story_id"], "frame": predictions[i]["target_frame"],
                 "reference": predictions[i]["reference"], "generated": predictions[i]["model"]} for i in picks]
    story_lengths = list(Counter(cache["story_ids"]).values())
    token_lengths = (cache["token_ids"] != meta["pad_id"]).sum(1).tolist()
    labels = [f"{sid[-5:]}:{int(cache['frames'][r])}"
              for sid, r in zip(views["heatmap_stories"], views["frames"].tolist())]
    for draw, path, args in [
        (figures.story_strips, "plots/story_strips.png", (examples,)),
        (figures.similarity, "plots/similarity.png", (views["similarity"], labels)),
        (figures.dataset_stats, "plots/dataset.png", (story_lengths, token_lengths)),
        (figures.norms, "plots/norms.png", (views["image_norms"], views["text_norms"], views["steps"].norm(dim=-1))),
        (figures.losses, "plots/losses.png", (history,)),
    ]:
        with atomic_path(path) as tmp:
            draw(*args, tmp)
    with atomic_path("plots/windows") as tmp:  # fixed test windows, for `dvc plots diff` side by side
        tmp.mkdir()
        for n, ex in enumerate(examples, 1):
            figures.true_and_predicted(ex["target"], ex["predicted"], f"{tmp}/window_{n}.png")
    print("plot: wrote plots/*.png, plots/windows/ and plots/scores.csv")


if __name__ == "__main__":
    run_stage(main)
