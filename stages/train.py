"""train: fit the story model on cached features; keep the best-val checkpoint."""
import torch

from storyseq import features, params as P
from storyseq.atomic import atomic_path
from storyseq.dataset import Vocabulary, load_windows
from storyseq.errors import run_stage
from storyseq.live import log_epoch, open_log
from storyseq.model import StoryModel
from storyseq.runtime import resolve_device, seed_everything
from storyseq.training import fit


def build(model_params, cache, meta, windows):
    """(StoryModel's config, generation vocabulary) for the cached features, from the captions of
    the training windows and the model params."""
    train_rows = torch.cat([windows["train"]["inputs"].flatten(), windows["train"]["target"]]).unique()
    vocab = Vocabulary.from_tokens(cache["token_ids"][train_rows], meta["pad_id"], meta["bos_id"], meta["eos_id"],
                                   meta["unk_id"], size=model_params["vocab_size"])
    config = {"image_dim": meta["image_dim"], "text_dim": meta["text_dim"], "vocab_size": len(vocab),
              "target_size": meta["target_size"], "k": windows["train"]["inputs"].shape[1],
              "max_tokens": cache["token_ids"].shape[1],
              **{k: v for k, v in model_params.items() if k != "vocab_size"}}
    return config, vocab


def main():
    params = P.load("model", "train")
    t = params.train
    device = resolve_device(t["device"], "train.device")
    seed_everything(t["seed"])
    cache, meta = features.load("data/features")
    windows = load_windows("data/windows.parquet", cache)
    config, vocab = build(params.model, cache, meta, windows)
    model = StoryModel(**config).to(device)
    with open_log() as live:
        state, best_epoch, history = fit(model, features.on_device(cache, device), windows["train"], windows["val"],
                                         vocab, t, log=lambda row: log_epoch(live, row))
        best = history[best_epoch - 1]["val_image_plus_text"]
        # keys that sort after rouge_l, so that `dvc metrics show` leads with the model's scores
        live.summary["selected"] = {"epoch": best_epoch, "val_image_plus_text": best}
        live.summary["size"] = {"parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(vocab)}
        live.make_summary()
    with atomic_path("models/model.pt") as tmp:
        torch.save({"config": config, "state": {k: v.cpu() for k, v in state.items()}, "vocab": vocab.ids,
                    "tokenizer": meta["tokenizer"]}, tmp)
    print(f"train: best epoch {best_epoch} of {t['epochs']}: val image + text loss {best:.4f}")
    if best_epoch == t["epochs"] > 1:
        print(f"train: warning: the best epoch is the last one; the val loss was still falling: "
              f"more train.epochs (now {t['epochs']}) may help")


if __name__ == "__main__":
    run_stage(main)
