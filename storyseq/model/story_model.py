"""The story model: projections into a shared space, a fused LSTM over the K input frames,
an image decoder (storyseq/model/image_decoders.py) and a text decoder (storyseq/model/text_decoders.py)."""
from dataclasses import dataclass, fields

import torch
from torch import nn

from storyseq.model.image_decoders import ContextDecoder, FramePredictor
from storyseq.model.layers import Dropout
from storyseq.model.text_decoders import CopyDecoder, GRUDecoder


@dataclass
class ModelConfig:
    """What a StoryModel is built from: sizes that come from the data, and the model params
    (params.yaml's model section, docs/params there). The checkpoint stores it."""
    image_dim: int         # width of the cached image features
    text_dim: int          # width of the cached text features
    vocab_size: int        # the generation vocabulary's real size (model.max_vocab_size caps it)
    target_size: int       # side of the target images
    embed_dim: int
    hidden_dim: int
    dropout: float
    image_channels: int
    token_dim: int
    text_decoder: str = "copy"
    k: int = 4             # input frames per window
    max_tokens: int = 160  # positions of a tokenised caption
    image_inputs: bool = True
    image_decoder: str = "frames"
    frame_channels: int = 16

    @classmethod
    def from_params(cls, model_params, **sizes):
        """The config for the model params and the sizes that come from the data."""
        return cls(**sizes, **{f.name: model_params[f.name] for f in fields(cls) if f.name in model_params})


class StoryModel(nn.Module):
    """Frames 1..K of a window -> frame K+1's picture and caption.

    Each input frame's frozen image and text features are projected into a shared space of
    width embed_dim (where the contrastive loss pairs them), fused, and read by an LSTM of width
    hidden_dim; its last output is the story context. From the context, the image decoder
    (storyseq/model/image_decoders.py) predicts the picture, reading frames 1..K's pixels, and
    the text decoder (storyseq/model/text_decoders.py) writes the caption, reading frames 1..K's
    captions. Without image_inputs (the text-only ablation) no picture of frames 1..K goes in."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.image_proj = nn.Sequential(nn.LayerNorm(c.image_dim), nn.Linear(c.image_dim, c.embed_dim))
        self.text_proj = nn.Sequential(nn.LayerNorm(c.text_dim), nn.Linear(c.text_dim, c.embed_dim))
        self.fuse = nn.Sequential(nn.Linear(2 * c.embed_dim, c.hidden_dim), nn.ReLU(), Dropout(c.dropout))
        self.lstm = nn.LSTM(c.hidden_dim, c.hidden_dim, batch_first=True)
        if c.text_decoder == "copy":  # built before the image decoder, whose choice then leaves its init alone
            self.text_decoder = CopyDecoder(c.vocab_size, c.hidden_dim, c.dropout, c.k, c.max_tokens, c.token_dim)
        else:
            self.text_decoder = GRUDecoder(c.vocab_size, c.hidden_dim, c.dropout)
        if c.image_decoder == "frames":
            self.image_decoder = FramePredictor(c.hidden_dim, c.frame_channels, c.k)
        else:
            self.image_decoder = ContextDecoder(c.hidden_dim, c.target_size, c.image_channels)

    def project(self, image_features, text_features):
        """Per-frame projections into the shared (contrastive) space."""
        return self.image_proj(image_features), self.text_proj(text_features)

    def context(self, image_emb, text_emb):
        """(B, K, D) projections -> (story context (B, H), LSTM outputs (B, K, H)). Without
        image_inputs (the text-only ablation) the image projections are zeroed: only words go in."""
        if not self.config.image_inputs:
            image_emb = torch.zeros_like(image_emb)
        steps, _ = self.lstm(self.fuse(torch.cat([image_emb, text_emb], dim=-1)))
        return steps[:, -1], steps

    def forward(self, image_emb, text_emb, frames, source, caption, vocab):
        """Teacher-forced outputs: (predicted image, per-token NLL (B, T - 1) of caption[:, 1:]),
        from the input frames' projections (B, K, D), their pixels (B, K, 3, S, S) and the input
        captions' tokenizer ids `source` (B, K, L). The decoder's input is the caption shifted right."""
        context, _ = self.context(image_emb, text_emb)
        state = self.text_decoder.start(context, source, vocab)
        nll = self.text_decoder.nll(state, caption[:, :-1], caption[:, 1:], vocab)
        return self.predict_image(context, frames), nll

    def predict_image(self, context, frames):
        """Frame K+1's picture from the story context and frames 1..K's pixels (B, K, 3, S, S),
        which the text-only ablation does not see: it paints from the context alone."""
        return self.image_decoder(context, frames if self.config.image_inputs else torch.zeros_like(frames))

    def window_context(self, image_features, text_features, inputs):
        """Context and LSTM outputs for windows given as (B, K) rows into the feature tensors."""
        return self.context(*self.project(image_features[inputs], text_features[inputs]))


def load_checkpoint(path):
    """(model in eval mode, checkpoint dict) from a file written by the train stage."""
    checkpoint = torch.load(path, weights_only=True)
    model = StoryModel(ModelConfig(**checkpoint["config"]))
    model.load_state_dict(checkpoint["state"])
    return model.eval(), checkpoint
