"""The story model: projections into a shared space, a fused LSTM over the K input frames,
an image decoder (storyseq/image_decoders.py) and a text decoder (storyseq/text_decoders.py)."""
import torch
from torch import nn

from storyseq.image_decoders import ContextDecoder, FramePredictor
from storyseq.text_decoders import CopyDecoder, Dropout, GRUDecoder


class StoryModel(nn.Module):
    def __init__(self, image_dim, text_dim, vocab_size, embed_dim, hidden_dim, target_size, dropout, image_channels,
                 token_dim, text_decoder="copy", k=4, max_tokens=160, image_inputs=True, image_decoder="frames",
                 frame_channels=16):
        super().__init__()
        self.image_inputs = image_inputs
        self.image_proj = nn.Sequential(nn.LayerNorm(image_dim), nn.Linear(image_dim, embed_dim))
        self.text_proj = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, embed_dim))
        self.fuse = nn.Sequential(nn.Linear(2 * embed_dim, hidden_dim), nn.ReLU(), Dropout(dropout))
        self.lstm = nn.LSTM(hidden_dim, hidden_dim, batch_first=True)
        if text_decoder == "copy":  # built before the image decoder, whose choice then leaves its init alone
            self.text_decoder = CopyDecoder(vocab_size, hidden_dim, dropout, k, max_tokens, token_dim)
        else:
            self.text_decoder = GRUDecoder(vocab_size, hidden_dim, dropout)
        if image_decoder == "frames":
            self.image_decoder = FramePredictor(hidden_dim, frame_channels, k)
        else:
            self.image_decoder = ContextDecoder(hidden_dim, target_size, image_channels)

    def project(self, image_features, text_features):
        """Per-frame projections into the shared (contrastive) space."""
        return self.image_proj(image_features), self.text_proj(text_features)

    def context(self, image_emb, text_emb):
        """(B, K, D) projections -> (story context (B, H), LSTM outputs (B, K, H)). Without
        image_inputs (the text-only ablation) the image projections are zeroed: only words go in."""
        if not self.image_inputs:
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
        return self.image_decoder(context, frames if self.image_inputs else torch.zeros_like(frames))

    def window_context(self, image_features, text_features, inputs):
        """Context and LSTM outputs for windows given as (B, K) rows into the feature tensors."""
        return self.context(*self.project(image_features[inputs], text_features[inputs]))


def load_checkpoint(path):
    """(model in eval mode, checkpoint dict) from a file written by the train stage."""
    checkpoint = torch.load(path, weights_only=True)
    model = StoryModel(**checkpoint["config"])
    model.load_state_dict(checkpoint["state"])
    return model.eval(), checkpoint
