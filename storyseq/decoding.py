"""Autoregressive caption generation from the story context. The decoder only ever sees its
own previous outputs, never the reference."""
import torch

from storyseq.features import target_pixels


@torch.no_grad()
def greedy(decoder, context, vocab, max_new_tokens):
    """Greedy decoding for a batch of contexts; returns lists of vocabulary indices (no bos/eos)."""
    state = decoder.start(context)
    tokens = torch.full((len(context), 1), vocab.bos, dtype=torch.long, device=context.device)
    steps, done = [], torch.zeros(len(context), dtype=torch.bool, device=context.device)
    for _ in range(max_new_tokens):
        logits, state = decoder.step(tokens, state, context)
        tokens = logits[:, -1].argmax(-1, keepdim=True)
        steps.append(tokens.squeeze(1))
        done |= tokens.squeeze(1) == vocab.eos
        if done.all():
            break
    return [_until_eos(seq, vocab) for seq in torch.stack(steps, 1).tolist()]


@torch.no_grad()
def beam_search(decoder, context, vocab, max_new_tokens, beam_size):
    """Beam search, one context at a time, scored by mean token log-probability."""
    return [_beam_one(decoder, c.unsqueeze(0), vocab, max_new_tokens, beam_size) for c in context]


def _beam_one(decoder, context, vocab, max_new_tokens, beam_size):
    beams, scores = [[]], torch.zeros(1, device=context.device)
    state, finished = decoder.start(context), []
    last = torch.full((1, 1), vocab.bos, dtype=torch.long, device=context.device)
    for _ in range(max_new_tokens):
        logits, state = decoder.step(last, state, context.expand(len(beams), -1))
        candidates = (scores.unsqueeze(1) + logits[:, -1].log_softmax(-1)).flatten()
        top_scores, top = candidates.topk(min(beam_size, len(candidates)))
        keep, next_beams, next_scores = [], [], []
        for score, flat in zip(top_scores.tolist(), top.tolist()):
            beam, token = divmod(flat, logits.shape[-1])
            if token == vocab.eos:
                finished.append((score / (len(beams[beam]) + 1), beams[beam]))
            else:
                keep.append(beam)
                next_beams.append(beams[beam] + [token])
                next_scores.append(score)
        if len(finished) >= beam_size or not next_beams:
            break
        beams, scores = next_beams, torch.tensor(next_scores, device=context.device)
        state = state[:, keep]
        last = torch.tensor([[b[-1]] for b in beams], device=context.device)
    if not finished:  # no beam ended within max_new_tokens: rank the unfinished ones
        finished = [(s / (len(b) + 1), b) for s, b in zip(scores.tolist(), beams)]
    return max(finished, key=lambda item: item[0])[1]


def _until_eos(seq, vocab):
    return seq[:seq.index(vocab.eos)] if vocab.eos in seq else seq


def generate(decoder, context, vocab, max_new_tokens, beam_size=1):
    """Vocabulary-index sequences for a batch of contexts: greedy when beam_size == 1."""
    if beam_size == 1:
        return greedy(decoder, context, vocab, max_new_tokens)
    return beam_search(decoder, context, vocab, max_new_tokens, beam_size)


@torch.no_grad()
def predict(model, cache, windows, vocab, tokenizer, max_new_tokens, beam_size, batch_size=256, progress=None):
    """The model's (images on the CPU, captions) for every window, generated autoregressively on
    the device of the model and the cache; progress(n) is called after each batch of n windows."""
    device = cache["image_features"].device
    images, captions = [], []
    for rows in windows["inputs"].to(device).split(batch_size):
        context, _ = model.window_context(cache["image_features"], cache["text_features"], rows)
        images.append(model.image_decoder(context, target_pixels(cache, rows[:, -1])).cpu())
        for seq in generate(model.text_decoder, context, vocab, max_new_tokens, beam_size):
            captions.append(tokenizer.decode(vocab.decode(torch.tensor(seq, dtype=torch.long)).tolist(),
                                             skip_special_tokens=True))
        if progress:
            progress(len(rows))
    return torch.cat(images), captions
