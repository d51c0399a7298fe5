"""Training on cached features: per-component losses, AdamW, a val loss every epoch, and
the best-val weights kept. "Best" is the lowest val image + text loss: the task itself.
The contrastive term is an auxiliary whose scale changes with lambda, so it stays out of
the choice and checkpoints compare across lambda_contrastive values."""
import copy

import torch
from torch.nn import functional as F

from storyseq.features import target_pixels
from storyseq.losses import info_nce, text_loss
from storyseq.progress import tqdm

COMPONENTS = ("image", "text", "contrastive", "total")


def batch_losses(model, cache, inputs, target, vocab, lambda_contrastive, temperature):
    """Losses of one batch of windows, (B, K) input rows and (B,) target rows."""
    frames, inverse = inputs.unique(return_inverse=True)
    image_emb, text_emb = model.project(cache["image_features"][frames], cache["text_features"][frames])
    tokens = vocab.encode(cache["token_ids"][target])
    tokens = tokens[:, :int((tokens != vocab.pad).sum(1).max())]
    predicted_image, logits = model(image_emb[inverse], text_emb[inverse], target_pixels(cache, inputs[:, -1]),
                                    tokens[:, :-1])
    losses = {
        "image": F.mse_loss(predicted_image, target_pixels(cache, target)),
        "text": text_loss(logits, tokens[:, 1:], vocab.pad),
        "contrastive": info_nce(image_emb, text_emb, temperature),
    }
    losses["total"] = losses["image"] + losses["text"] + lambda_contrastive * losses["contrastive"]
    return losses


def _epoch(model, cache, windows, vocab, t, order, optimizer=None):
    """Mean losses over `windows` in the given order; a step per batch when an optimizer is given."""
    sums, count = dict.fromkeys(COMPONENTS, 0.0), 0
    for rows in order.split(t["batch_size"]):
        losses = batch_losses(model, cache, windows["inputs"][rows], windows["target"][rows], vocab,
                              t["lambda_contrastive"], t["temperature"])
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
        for key in COMPONENTS:
            sums[key] += losses[key].item() * len(rows)
        count += len(rows)
    return {key: value / count for key, value in sums.items()}


def fit(model, cache, train, val, vocab, t):
    """Train for t['epochs']; return (best-val state dict, best epoch, history rows)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    generator = torch.Generator().manual_seed(t["seed"])
    history, best_state, best_epoch, best_task = [], None, 0, float("inf")
    bar = tqdm(range(1, t["epochs"] + 1), desc="train", unit="epoch")
    for epoch in bar:
        model.train()
        train_losses = _epoch(model, cache, train, vocab, t, torch.randperm(len(train["target"]), generator=generator),
                              optimizer)
        model.eval()
        with torch.no_grad():
            val_losses = _epoch(model, cache, val, vocab, t, torch.arange(len(val["target"])))
        history.append({"epoch": epoch, **{f"train_{k}": round(v, 6) for k, v in train_losses.items()},
                        **{f"val_{k}": round(v, 6) for k, v in val_losses.items()}})
        task = val_losses["image"] + val_losses["text"]
        if task < best_task:
            best_task, best_state, best_epoch = task, copy.deepcopy(model.state_dict()), epoch
        bar.set_postfix(train=f"{train_losses['total']:.3f}", val=f"{val_losses['total']:.3f}", best=best_epoch,
                        refresh=False)
    return best_state, best_epoch, history
