"""Text decoders: the seed's GRU language model, and a pointer-generator that reads the input
captions. Both take tokenizer ids in and give, for each step, log-probabilities over an extended
vocabulary: the generation vocabulary, then the batch's input-caption tokens outside it (only
the copy decoder can reach those). Neither ever sees frame K+1's caption but as the
teacher-forced input of training."""
import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from storyseq.model.layers import Dropout


def extended_vocabulary(vocab, source):
    """(index of each source position in the extended vocabulary (B, S), tokenizer ids of the
    extra entries (M,)): a source token outside the vocabulary gets an entry after it."""
    index = vocab.encode(source)
    outside = (index == vocab.unk) & (source != vocab.special_id(vocab.unk))
    extra, rank = source[outside].unique(return_inverse=True)
    index = index.masked_scatter(outside, len(vocab) + rank)
    return index, extra


def recurrence(source, mask):
    """(B, K, L, K): 1 where the pair of tokens that starts at a position of a caption (the token
    and the next) also occurs in each of the K captions of its window."""
    following = F.pad(source[..., 1:].masked_fill(~mask[..., 1:], -1), (0, 1), value=-1) + 1
    pairs = (source.long() << 32 | following).masked_fill(~mask, -1)  # one id per pair, no sync with a GPU
    same = pairs.unsqueeze(-1).unsqueeze(-1) == pairs[:, None, None].masked_fill(~mask[:, None, None], -2)
    return same.any(-1).float()


class GRUDecoder(nn.Module):
    """The seed's decoder: a GRU started from the story context, which it also sees at every
    step, with a softmax over the generation vocabulary. It never reads the input captions."""

    def __init__(self, vocab_size, hidden_dim, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden_dim, padding_idx=0)
        self.init = nn.Linear(hidden_dim, hidden_dim)
        self.gru = nn.GRU(2 * hidden_dim, hidden_dim, batch_first=True)
        self.drop = Dropout(dropout)
        self.out = nn.Linear(hidden_dim, vocab_size)

    def start(self, context, source, vocab):
        """The decoding state of a batch: story context (B, H); the source is not read."""
        return {"h": torch.tanh(self.init(context)).unsqueeze(0), "context": context,
                "extra": source.new_zeros(0)}

    def _run(self, state, tokens, vocab):
        x = self.drop(self.embed(vocab.encode(tokens)))
        x = torch.cat([x, state["context"].unsqueeze(1).expand(-1, x.shape[1], -1)], dim=-1)
        out, h = self.gru(x, state["h"])
        return self.out(out), {**state, "h": h}

    def step(self, state, tokens, vocab):
        """Log-probabilities (B, T, V) of the token after each of `tokens` (B, T), and the new state."""
        logits, state = self._run(state, tokens, vocab)
        return logits.log_softmax(-1), state

    def nll(self, state, tokens, targets, vocab):
        """Per-token negative log-likelihood (B, T) of `targets` after `tokens` (teacher forcing)."""
        logits, _ = self._run(state, tokens, vocab)
        return F.cross_entropy(logits.transpose(1, 2), vocab.encode(targets), reduction="none")


class CopyStep(NamedTuple):
    """What the copy decoder computes for a run of tokens: generation log-probabilities (B, T, V),
    attention over the source (B, T, S), log gate and log (1 - gate) of generating (B, T), and
    the state after the last token."""
    log_probs: torch.Tensor
    attention: torch.Tensor
    log_generate: torch.Tensor
    log_copy: torch.Tensor
    state: dict


class CopyDecoder(nn.Module):
    """A pointer-generator. The input captions' tokens, embedded with the position of each in its
    caption, the frame it came from and the captions in which the pair of tokens it starts recurs
    (what the story repeats: a name, a returning action), and mixed with their neighbours by two
    convolutions (the second dilated, so that a position sees three tokens either side: a whole
    name and the words around it), form a memory. At each step a GRU (started from the story
    context, which is also added to each step's input) attends over that memory; a learned gate
    mixes generating from the vocabulary with copying the attended tokens. So that a name split
    into several pieces is copied piece after piece, the step's input carries a 'selective read'
    (the memory at the positions of the previous token), and the attention gets learned bonuses
    for the positions that follow an occurrence of the previous token, and of the previous two.
    So that it can tell what it has already told (who is still to be named), the attention also
    gets a learned bonus for the positions whose pair of tokens the caption already holds: a
    coverage of pairs, as single pieces ('ma', '##ra') are shared by many names.
    Tokens (embeddings, memory, attention, output features) are token_dim wide, narrower than the
    GRU's hidden_dim: the memory spans K x L positions and the output layer the vocabulary, so
    their width sets most of the decoder's cost."""

    def __init__(self, vocab_size, hidden_dim, dropout, k, max_tokens, token_dim):
        super().__init__()
        h, d = hidden_dim, token_dim
        self.follow_pair_bonus = nn.Linear(h, 1)
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0)
        self.frame = nn.Embedding(k, d)
        self.position = nn.Embedding(max_tokens, d)
        self.recurrence = nn.Linear(k, d, bias=False)
        self.near_mix = nn.Conv1d(d, d, kernel_size=3, padding=1)
        self.init = nn.Linear(h, h)
        self.context_input = nn.Linear(h, d)
        self.gru = nn.GRU(2 * d, h, batch_first=True)
        self.query = nn.Linear(h, d, bias=False)
        self.follow_bonus = nn.Linear(h, 1)
        self.told_bonus = nn.Linear(h, 1)
        self.drop = Dropout(dropout)
        self.combine = nn.Linear(h + d, d)
        self.out = nn.Linear(d, vocab_size)
        self.gate = nn.Linear(h + 2 * d, 1)
        self.far_mix = nn.Conv1d(d, d, kernel_size=3, padding=2, dilation=2)

    def start(self, context, source, vocab):
        """The decoding state of a batch: story context (B, H) and source (B, K, L), the tokenizer
        ids of the K input captions. Each caption is mixed on its own, with its padding zeroed
        before each convolution, so that a window's memory does not depend on L, the longest
        caption of its batch. The state also carries what the caption so far has matched: the
        positions of its last token ("last") and the pairs it has already told ("told")."""
        b, k, length = source.shape
        mask = source != vocab.special_id(vocab.pad)
        positions = torch.arange(length, device=source.device)
        x = (self.embed(vocab.encode(source)) + self.frame(torch.arange(k, device=source.device))[:, None]
             + self.position(positions) + self.recurrence(recurrence(source, mask))) * mask.unsqueeze(-1)
        x, flat_mask = x.flatten(0, 1), mask.flatten(0, 1).unsqueeze(-1)
        memory = self._mixed(self.far_mix, self._mixed(self.near_mix, x) * flat_mask).view(b, k * length, -1)
        source, mask = source.flatten(1), mask.flatten(1)
        index, extra = extended_vocabulary(vocab, source)
        return {"h": torch.tanh(self.init(context)).unsqueeze(0), "context_input": self.context_input(context),
                "memory": memory, "source": source, "mask": mask, "index": index, "extra": extra,
                "told": torch.zeros_like(mask), "last": torch.zeros_like(mask)}

    def _mixed(self, convolution, x):
        """x (N, L, D) plus the ReLU of `convolution` over its positions (dropout on its input)."""
        return x + torch.relu(convolution(self.drop(x).transpose(1, 2))).transpose(1, 2)

    @staticmethod
    def _matches(state, tokens):
        """Where each step's token stands in the source (B, T, S); where the pair of the step's
        previous token and itself starts; and which pairs the caption has told up to each step."""
        same = (tokens.unsqueeze(2) == state["source"].unsqueeze(1)) & state["mask"].unsqueeze(1)
        before = torch.cat([state["last"].unsqueeze(1), same[:, :-1]], 1)
        pair = before & F.pad(same[..., 1:], (0, 1))
        told = (pair.cumsum(1) > 0) | state["told"].unsqueeze(1)
        return same, pair, told

    def _attention(self, out, memory, mask, same, pair, told):
        """Attention (B, T, S) of the GRU outputs over the memory, with the learned bonuses for the
        positions that follow the last token, or the last pair, and for the pairs already told."""
        scores = (self.query(out) / math.sqrt(memory.shape[-1])) @ memory.transpose(1, 2)
        scores = (scores + torch.where(F.pad(same[..., :-1], (1, 0)), self.follow_bonus(out), 0.0)
                  + torch.where(F.pad(pair[..., :-2], (2, 0)), self.follow_pair_bonus(out), 0.0)
                  + torch.where(told, self.told_bonus(out), 0.0))
        return scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(-1)

    def _run(self, state, tokens, vocab):
        """A CopyStep for `tokens` (B, T) from `state`."""
        memory = state["memory"]
        same, pair, told = self._matches(state, tokens)
        selective_read = same.float() @ memory / same.sum(-1, keepdim=True).clamp(min=1)
        x = self.drop(self.embed(vocab.encode(tokens))) + state["context_input"].unsqueeze(1)
        out, h = self.gru(torch.cat([x, selective_read], dim=-1), state["h"])
        attention = self._attention(out, memory, state["mask"], same, pair, told)
        features = torch.cat([out, attention @ memory], dim=-1)
        gate = self.gate(torch.cat([features, x], dim=-1)).squeeze(-1)
        log_probs = self.out(self.drop(torch.tanh(self.combine(features)))).log_softmax(-1)
        return CopyStep(log_probs, attention, F.logsigmoid(gate), F.logsigmoid(-gate),
                        {**state, "h": h, "told": told[:, -1], "last": same[:, -1]})

    def step(self, state, tokens, vocab):
        """Log-probabilities (B, T, V + M) over the extended vocabulary after each of `tokens`."""
        log_probs, attention, log_gen, log_copy, state = self._run(state, tokens, vocab)
        b, t, _ = log_probs.shape
        copy = attention.new_zeros(b, t, len(vocab) + len(state["extra"]))
        copy.scatter_add_(2, state["index"].unsqueeze(1).expand(-1, t, -1), attention)
        generate = F.pad(log_probs + log_gen.unsqueeze(-1), (0, len(state["extra"])), value=float("-inf"))
        return torch.logaddexp(generate, copy.log() + log_copy.unsqueeze(-1)), state

    def nll(self, state, tokens, targets, vocab):
        """Per-token negative log-likelihood (B, T) of `targets` after `tokens` (teacher forcing):
        a target outside the vocabulary is generated as [UNK] where no input caption holds it, and
        can only be copied where one does."""
        log_probs, attention, log_gen, log_copy, _ = self._run(state, tokens, vocab)
        same = (targets.unsqueeze(2) == state["source"].unsqueeze(1)) & state["mask"].unsqueeze(1)
        copyable = same.any(-1)
        index = vocab.encode(targets)
        log_generate = log_probs.gather(-1, index.unsqueeze(-1)).squeeze(-1) + log_gen
        log_generate = log_generate.masked_fill(copyable & (index == vocab.unk), float("-inf"))
        copied = (attention * same).sum(-1).clamp(min=1e-12).log() + log_copy
        copied = copied.masked_fill(~copyable, float("-inf"))
        return -torch.logaddexp(log_generate, copied)
