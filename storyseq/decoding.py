"""Autoregressive caption generation from the story context and the K input captions. The
decoder only ever sees its own previous outputs, never the reference."""
import torch

from storyseq.features import target_pixels


def _token_ids(vocab, state):
    """Tokenizer id of each entry of the extended vocabulary of a decoding state."""
    return torch.cat([vocab.ids.to(state["extra"].device), state["extra"]])


def _select(state, index):
    """The state of the batch rows `index` (beam search reorders and copies rows)."""
    rows = {k: v[index] for k, v in state.items() if k not in ("h", "extra")}
    return {**state, **rows, "h": state["h"][:, index]}


@torch.no_grad()
def greedy(decoder, context, source, vocab, max_new_tokens):
    """Greedy decoding of a batch; returns lists of tokenizer ids (no bos/eos)."""
    state = decoder.start(context, source, vocab)
    ids, eos = _token_ids(vocab, state), vocab.special_id(vocab.eos)
    tokens = torch.full((len(context), 1), vocab.special_id(vocab.bos), dtype=torch.long, device=context.device)
    steps, done = [], torch.zeros(len(context), dtype=torch.bool, device=context.device)
    for _ in range(max_new_tokens):
        log_probs, state = decoder.step(state, tokens, vocab)
        tokens = ids[log_probs[:, -1].argmax(-1, keepdim=True)]
        steps.append(tokens.squeeze(1))
        done |= tokens.squeeze(1) == eos
        if done.all():
            break
    return [_until_eos(seq, eos) for seq in torch.stack(steps, 1).tolist()]


@torch.no_grad()
def beam_search(decoder, context, source, vocab, max_new_tokens, beam_size):
    """Beam search, one window at a time, scored by mean token log-probability."""
    return [_beam_one(decoder, context[i:i + 1], source[i:i + 1], vocab, max_new_tokens, beam_size)
            for i in range(len(context))]


def _beam_one(decoder, context, source, vocab, max_new_tokens, beam_size):
    state = decoder.start(context, source, vocab)
    ids, eos = _token_ids(vocab, state), vocab.special_id(vocab.eos)
    beams, scores, finished = [[]], torch.zeros(1, device=context.device), []
    last = torch.full((1, 1), vocab.special_id(vocab.bos), dtype=torch.long, device=context.device)
    for _ in range(max_new_tokens):
        log_probs, state = decoder.step(state, last, vocab)
        candidates = (scores.unsqueeze(1) + log_probs[:, -1]).flatten()
        top_scores, top = candidates.topk(min(beam_size, len(candidates)))
        keep, next_beams, next_scores = [], [], []
        for score, flat in zip(top_scores.tolist(), top.tolist()):
            beam, entry = divmod(flat, log_probs.shape[-1])
            token = int(ids[entry])
            if token == eos:
                finished.append((score / (len(beams[beam]) + 1), beams[beam]))
            else:
                keep.append(beam)
                next_beams.append(beams[beam] + [token])
                next_scores.append(score)
        if len(finished) >= beam_size or not next_beams:
            break
        beams, scores = next_beams, torch.tensor(next_scores, device=context.device)
        state = _select(state, torch.tensor(keep, device=context.device))
        last = torch.tensor([[b[-1]] for b in beams], device=context.device)
    if not finished:  # no beam ended within max_new_tokens: rank the unfinished ones
        finished = [(s / (len(b) + 1), b) for s, b in zip(scores.tolist(), beams)]
    return max(finished, key=lambda item: item[0])[1]


def _until_eos(seq, eos):
    return seq[:seq.index(eos)] if eos in seq else seq


def generate(decoder, context, source, vocab, max_new_tokens, beam_size=1):
    """Tokenizer-id sequences for a batch of contexts (B, H) and input captions (B, K, L):
    greedy when beam_size == 1."""
    if beam_size == 1:
        return greedy(decoder, context, source, vocab, max_new_tokens)
    return beam_search(decoder, context, source, vocab, max_new_tokens, beam_size)


def input_captions(cache, inputs, pad_id):
    """Tokenizer ids (B, K, L) of the windows' input captions, cut to the longest of them."""
    tokens = cache["token_ids"][inputs].long()
    return tokens[..., :int((tokens != pad_id).sum(-1).max())]


@torch.no_grad()
def predict(model, cache, windows, vocab, tokenizer, max_new_tokens, beam_size, batch_size=256, progress=None):
    """The model's (images on the CPU, captions) for every window, generated autoregressively on
    the device of the model and the cache. Only frames 1..K of a window are read; progress(n) is
    called after each batch of n windows."""
    device = cache["image_features"].device
    images, captions = [], []
    for rows in windows["inputs"].to(device).split(batch_size):
        context, _ = model.window_context(cache["image_features"], cache["text_features"], rows)
        images.append(model.image_decoder(context, target_pixels(cache, rows[:, -1])).cpu())
        source = input_captions(cache, rows, vocab.special_id(vocab.pad))
        for seq in generate(model.text_decoder, context, source, vocab, max_new_tokens, beam_size):
            captions.append(tokenizer.decode(seq, skip_special_tokens=True))
        if progress:
            progress(len(rows))
    return torch.cat(images), captions
