"""Training losses."""
import torch
from torch.nn import functional as F


def info_nce(image_emb, text_emb, temperature):
    """CLIP's symmetric InfoNCE: frame i's image and text are a pair, every other frame a negative."""
    image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    logits = image_emb @ text_emb.T / temperature
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def text_loss(logits, targets, pad):
    """Next-token cross-entropy, ignoring padding."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad)
