"""Training losses."""
import torch
from torch.nn import functional as F


def info_nce(image_emb, text_emb, temperature):
    """CLIP's symmetric InfoNCE: frame i's image and text are a pair, every other frame a negative."""
    image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    logits = image_emb @ text_emb.T / temperature
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def text_loss(nll, targets, pad_id):
    """Mean per-token negative log-likelihood, ignoring padding targets."""
    keep = targets != pad_id
    return nll[keep].sum() / keep.sum().clamp(min=1)
