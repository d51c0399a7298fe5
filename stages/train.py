"""train: fit the story model on cached features; keep the last (or best-val) checkpoint."""
from dataclasses import asdict

import torch

from storyseq.core import params as P
from storyseq.core.atomic import atomic_path
from storyseq.core.errors import run_stage
from storyseq.core.live import log_epoch, open_log
from storyseq.core.runtime import resolve_device, seed_everything
from storyseq.embedding import features
from storyseq.model.dataset import load_windows
from storyseq.model.story_model import StoryModel
from storyseq.model.training import TrainSettings, build, fit


def main():
    params = P.load("model", "train")
    t = params.train
    device = resolve_device(t["device"], "train.device")
    seed_everything(t["seed"])
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    config, vocab = build(params.model, cache, meta, windows)
    model = StoryModel(config).to(device)
    with open_log() as live:
        state, kept_epoch, history = fit(model, features.on_device(cache, device), windows["train"], windows["val"],
                                         vocab, TrainSettings.from_params(t), log=lambda row: log_epoch(live, row))
        kept = history[kept_epoch - 1]["val_image_plus_text"]
        # keys that sort after rouge_l, so that `dvc metrics show` leads with the model's scores
        live.summary["selected"] = {"epoch": kept_epoch, "val_image_plus_text": kept}
        live.summary["size"] = {"parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(vocab)}
        live.make_summary()
    with atomic_path("models/model.pt") as tmp:
        torch.save({"config": asdict(config), "state": {k: v.cpu() for k, v in state.items()}, "vocab": vocab.ids,
                    "tokenizer": meta["tokenizer"]}, tmp)
    best = min(history, key=lambda row: row["val_image_plus_text"])
    print(f"train: kept epoch {kept_epoch} of {t['epochs']} (train.checkpoint: {t['checkpoint']}): val image + text "
          f"loss {kept:.4f}; the lowest, {best['val_image_plus_text']:.4f}, at epoch {best['epoch']}")
    if best["epoch"] == t["epochs"] > 1:
        print(f"train: warning: the val loss was still falling at the last epoch: "
              f"more train.epochs (now {t['epochs']}) may help")


if __name__ == "__main__":
    run_stage(main)
