"""train: fit the story model on cached features; keep the best-val checkpoint."""
import csv

import torch

from storyseq import features, params as P
from storyseq.atomic import atomic_path, write_json
from storyseq.dataset import Vocabulary, load_windows
from storyseq.errors import run_stage
from storyseq.model import StoryModel
from storyseq.runtime import resolve_device, seed_everything
from storyseq.training import fit


def main():
    params = P.load("model", "train")
    t = params.train
    device = resolve_device(t["device"], "train.device")
    seed_everything(t["seed"])
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    train_rows = torch.cat([windows["train"]["inputs"].flatten(), windows["train"]["target"]]).unique()
    vocab = Vocabulary.from_tokens(cache["token_ids"][train_rows], meta["pad_id"], meta["bos_id"], meta["eos_id"],
                                   meta["unk_id"])
    config = {"image_dim": meta["image_dim"], "text_dim": meta["text_dim"], "vocab_size": len(vocab),
              "target_size": meta["target_size"], **params.model}
    model = StoryModel(**config).to(device)
    on_device = {**features.on_device(cache, device), "token_ids": cache["token_ids"]}
    state, best_epoch, history = fit(model, on_device, windows["train"], windows["val"], vocab, t)
    with atomic_path("models/model.pt") as tmp:
        torch.save({"config": config, "state": {k: v.cpu() for k, v in state.items()}, "vocab": vocab.ids,
                    "tokenizer": meta["tokenizer"]}, tmp)
    with atomic_path("plots/history.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    best = history[best_epoch - 1]
    write_json("metrics/train.json", {"best_epoch": best_epoch, "epochs": t["epochs"],
                                      "parameters": sum(p.numel() for p in model.parameters()),
                                      "vocab_size": len(vocab), **{k: v for k, v in best.items() if k != "epoch"}})
    print(f"train: best epoch {best_epoch}: val total {best['val_total']:.4f}")


if __name__ == "__main__":
    run_stage(main)
