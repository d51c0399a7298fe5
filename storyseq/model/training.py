"""Training on cached features: per-component losses, AdamW, a val loss every epoch, and
the last epoch's weights kept, or (train.checkpoint: best_val) those with the lowest val
image + text loss: the task itself. The contrastive term is an auxiliary whose scale changes
with lambda, so it stays out of the choice and checkpoints compare across lambda_contrastive
values.

Window indices stay on the CPU, where each batch's bookkeeping (unique frames, caption
length) is done; the model, the features and the targets live on the model's device. Losses
are kept on the device and read once per epoch, so a GPU never waits on the host."""
import copy
import math
from dataclasses import dataclass, fields

import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from storyseq.core.progress import tqdm
from storyseq.embedding.features import target_pixels
from storyseq.model.dataset import Vocabulary
from storyseq.model.losses import info_nce, text_loss
from storyseq.model.story_model import ModelConfig

COMPONENTS = ("image", "text", "contrastive", "total")


def build(model_params, cache, meta, windows):
    """(ModelConfig, generation vocabulary) for the cached features, from the captions of the
    training windows and the model params."""
    train_rows = torch.cat([windows["train"]["inputs"].flatten(), windows["train"]["target"]]).unique()
    vocab = Vocabulary.from_tokens(cache["token_ids"][train_rows], meta["pad_id"], meta["bos_id"], meta["eos_id"],
                                   meta["unk_id"], size=model_params["max_vocab_size"])
    config = ModelConfig.from_params(model_params, image_dim=meta["image_dim"], text_dim=meta["text_dim"],
                                     vocab_size=len(vocab), target_size=meta["target_size"],
                                     k=windows["train"]["inputs"].shape[1], max_tokens=cache["token_ids"].shape[1])
    return config, vocab


@dataclass
class TrainSettings:
    """The train params that fit() reads (params.yaml's train section documents each)."""
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    lambda_contrastive: float
    image_weight: float
    temperature: float
    seed: int
    schedule: str
    clip_norm: float
    ema_decay: float
    checkpoint: str

    @classmethod
    def from_params(cls, train_params, **changes):
        return cls(**{f.name: train_params[f.name] for f in fields(cls)} | changes)


class Targets:
    """What the model reads and learns to predict for every frame: its caption's tokenizer ids and
    its image as floats in [0, 1], both on `device`, and the caption lengths on the CPU."""

    def __init__(self, cache, vocab, device):
        tokens = cache["token_ids"].cpu().long()
        self.pad_id, self.lengths = vocab.special_id(vocab.pad), (tokens != vocab.special_id(vocab.pad)).sum(1)
        self.tokens, self.pixels = tokens.to(device), target_pixels(cache).to(device)

    def captions(self, rows, rows_on_device):
        """(..., L) tokenizer ids of the given frames' captions, cut to the longest of them."""
        return self.tokens[rows_on_device, :int(self.lengths[rows].max())]


def batch_losses(model, cache, targets, vocab, inputs, target, lambda_contrastive, temperature, image_weight):
    """Losses of one batch of windows, given as (B, K) input rows and (B,) target rows on the CPU;
    the total weighs the image loss by image_weight and the contrastive one by lambda_contrastive.
    The rows travel to the device in one copy."""
    frames, inverse = inputs.unique(return_inverse=True)
    rows = torch.cat([frames, inverse.flatten(), target, inputs.flatten()])
    rows = rows.to(cache["image_features"].device, non_blocking=True)
    frames_d, inverse_d, target_d, inputs_d = rows.split([len(frames), inverse.numel(), len(target), inputs.numel()])
    image_emb, text_emb = model.project(cache["image_features"][frames_d], cache["text_features"][frames_d])
    inverse_d, inputs_d = inverse_d.view(inverse.shape), inputs_d.view(inputs.shape)
    caption = targets.captions(target, target_d)
    source = targets.captions(frames, inputs_d)
    predicted_image, nll = model(image_emb[inverse_d], text_emb[inverse_d], targets.pixels[inputs_d], source,
                                 caption, vocab)
    losses = {
        "image": F.mse_loss(predicted_image, targets.pixels[target_d]),
        "text": text_loss(nll, caption[:, 1:], targets.pad_id),
        "contrastive": info_nce(image_emb, text_emb, temperature),
    }
    losses["total"] = image_weight * losses["image"] + losses["text"] + lambda_contrastive * losses["contrastive"]
    return losses


def _epoch(model, cache, targets, vocab, windows, settings, order, update=None):
    """Mean losses over `windows` in the given order; update(total loss) after each batch when given."""
    steps, sizes = [], []
    for rows in order.split(settings.batch_size):
        losses = batch_losses(model, cache, targets, vocab, windows["inputs"][rows], windows["target"][rows],
                              settings.lambda_contrastive, settings.temperature, settings.image_weight)
        if update is not None:
            update(losses["total"])
        steps.append(torch.stack([losses[key].detach() for key in COMPONENTS]))
        sizes.append(len(rows))
    weights = torch.tensor(sizes, dtype=torch.float64, device=steps[0].device)
    return dict(zip(COMPONENTS, ((torch.stack(steps).double() * weights[:, None]).sum(0) / len(order)).tolist()))


def optimiser(model, settings, steps_per_epoch, device):
    """AdamW with a one-epoch linear warm-up, then cosine decay to zero over the other epochs
    (train.schedule: cosine), or a constant rate; gradients clipped to train.clip_norm (0: off);
    and an exponential moving average of the weights (train.ema_decay per step; 0: off), which is
    what is validated and kept. Returns (update(loss), averaged model)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay,
                                  fused=device.type == "cuda" or None)
    total, warmup = settings.epochs * steps_per_epoch, steps_per_epoch

    def rate(step):
        if settings.schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    averaged = settings.ema_decay and AveragedModel(
        model, multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay), use_buffers=True)

    def update(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.clip_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
        optimizer.step()
        scheduler.step()
        if averaged:
            averaged.update_parameters(model)

    return update, averaged.module if averaged else model


def fit(model, cache, train, val, vocab, settings, log=None):
    """Train for settings.epochs on the device of `cache` with the TrainSettings `settings`; return (kept
    state dict, its epoch, history rows). Each epoch the (averaged) weights are validated; the kept
    ones are the last epoch's, or (settings.checkpoint == "best_val") those with the lowest val
    image + text loss (val_image_plus_text). log(row) is called with each epoch's history row."""
    device = cache["image_features"].device
    targets = Targets(cache, vocab, device)
    update, validated = optimiser(model, settings, math.ceil(len(train["target"]) / settings.batch_size), device)
    generator = torch.Generator().manual_seed(settings.seed)
    history, kept_state, best_epoch, best_task = [], None, 0, float("inf")
    bar = tqdm(range(1, settings.epochs + 1), desc="train", unit="epoch")
    for epoch in bar:
        model.train()
        train_losses = _epoch(model, cache, targets, vocab, train, settings,
                              torch.randperm(len(train["target"]), generator=generator), update)
        validated.eval()
        with torch.no_grad():
            val_losses = _epoch(validated, cache, targets, vocab, val, settings, torch.arange(len(val["target"])))
        task = val_losses["image"] + val_losses["text"]
        history.append({"epoch": epoch, **{f"train_{k}": round(v, 6) for k, v in train_losses.items()},
                        **{f"val_{k}": round(v, 6) for k, v in val_losses.items()},
                        "val_image_plus_text": round(task, 6)})
        if log is not None:
            log(history[-1])
        if task < best_task:
            best_task, best_epoch = task, epoch
            if settings.checkpoint == "best_val":
                kept_state = copy.deepcopy(validated.state_dict())
        bar.set_postfix(train=f"{train_losses['total']:.3f}", val=f"{val_losses['total']:.3f}", best=best_epoch,
                        refresh=False)
    if settings.checkpoint == "last":
        return copy.deepcopy(validated.state_dict()), settings.epochs, history
    return kept_state, best_epoch, history
