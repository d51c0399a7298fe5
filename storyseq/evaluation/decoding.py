"""Autoregressive caption generation from the story context and the K input captions. The
decoder only ever sees its own previous outputs, never the reference."""
from dataclasses import asdict, dataclass, fields

import torch
from torch.nn import functional as F

from storyseq.embedding.features import target_pixels


def _token_ids(vocab, state):
    """Tokenizer id of each entry of the extended vocabulary of a decoding state."""
    return torch.cat([vocab.ids.to(state["extra"].device), state["extra"]])


def _select(state, index):
    """The state of the batch rows `index` (beam search reorders and copies rows)."""
    rows = {k: v[index] for k, v in state.items() if k not in ("h", "extra")}
    return {**state, **rows, "h": state["h"][:, index]}


def _apply_rules(log_probs, ids, eos, histories, alive, no_repeat_ngram, stop):
    """The step's log-probabilities (rows, V + M) under the decoding rules, and each row's new
    probability of not having ended. no_repeat_ngram: a token that would repeat an n-gram of the
    row's own history is barred. stop="median": the caption ends exactly where the model's own
    probability that it has ended passes 1/2 (so at its median length, where greedy's argmax
    stops at the first sentence end at which the end is likelier than any single word)."""
    if no_repeat_ngram:
        n = no_repeat_ngram
        for row, seq in enumerate(histories):
            prefix = seq[len(seq) - n + 1:]
            banned = {seq[i + n - 1] for i in range(len(seq) - n + 1) if seq[i:i + n - 1] == prefix}
            if banned:
                log_probs[row, torch.isin(ids, torch.tensor(sorted(banned), device=ids.device))] = float("-inf")
    is_eos = ids == eos
    if stop == "median":
        alive = alive * (1 - log_probs[:, is_eos].exp().sum(-1))
        ended = alive < 0.5
        log_probs.masked_fill_(ended.unsqueeze(1) & ~is_eos | ~ended.unsqueeze(1) & is_eos, float("-inf"))
    stuck = log_probs.isinf().all(-1, keepdim=True)  # every word barred: end the caption
    log_probs.masked_fill_(stuck & is_eos, 0.0)
    return log_probs, alive


@torch.no_grad()
def greedy(decoder, context, source, vocab, max_new_tokens, no_repeat_ngram=0, stop="argmax"):
    """Greedy decoding of a batch under the rules of _apply_rules; returns lists of tokenizer ids (no bos/eos)."""
    state = decoder.start(context, source, vocab)
    ids, eos = _token_ids(vocab, state), vocab.special_id(vocab.eos)
    tokens = torch.full((len(context), 1), vocab.special_id(vocab.bos), dtype=torch.long, device=context.device)
    histories, alive = [[] for _ in context], torch.ones(len(context), device=context.device)
    done = torch.zeros(len(context), dtype=torch.bool, device=context.device)
    for _ in range(max_new_tokens):
        log_probs, state = decoder.step(state, tokens, vocab)
        log_probs, alive = _apply_rules(log_probs[:, -1], ids, eos, histories, alive, no_repeat_ngram, stop)
        tokens = ids[log_probs.argmax(-1, keepdim=True)]
        for seq, token in zip(histories, tokens.squeeze(1).tolist()):
            seq.append(token)
        done |= tokens.squeeze(1) == eos
        if done.all():
            break
    return [_until_eos(seq, eos) for seq in histories]


@torch.no_grad()
def beam_search(decoder, context, source, vocab, max_new_tokens, beam_size, no_repeat_ngram=0, stop="argmax"):
    """Beam search, one window at a time, scored by mean token log-probability, under the rules
    of _apply_rules (each beam keeps its own history and probability of having ended)."""
    return [_beam_one(decoder, context[i:i + 1], source[i:i + 1], vocab, max_new_tokens, beam_size,
                      no_repeat_ngram, stop) for i in range(len(context))]


def _beam_one(decoder, context, source, vocab, max_new_tokens, beam_size, no_repeat_ngram, stop):
    state = decoder.start(context, source, vocab)
    ids, eos = _token_ids(vocab, state), vocab.special_id(vocab.eos)
    beams, scores, finished = [[]], torch.zeros(1, device=context.device), []
    alive = torch.ones(1, device=context.device)
    last = torch.full((1, 1), vocab.special_id(vocab.bos), dtype=torch.long, device=context.device)
    for _ in range(max_new_tokens):
        log_probs, state = decoder.step(state, last, vocab)
        log_probs, alive = _apply_rules(log_probs[:, -1], ids, eos, beams, alive, no_repeat_ngram, stop)
        candidates = (scores.unsqueeze(1) + log_probs).flatten()
        top_scores, top = candidates.topk(min(beam_size, len(candidates)))
        keep, next_beams, next_scores = [], [], []
        for score, flat in zip(top_scores.tolist(), top.tolist()):
            if score == float("-inf"):
                break
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
        keep = torch.tensor(keep, device=context.device)
        state, alive = _select(state, keep), alive[keep]
        last = torch.tensor([[b[-1]] for b in beams], device=context.device)
    if not finished:  # no beam ended within max_new_tokens: rank the unfinished ones
        finished = [(s / (len(b) + 1), b) for s, b in zip(scores.tolist(), beams)]
    return max(finished, key=lambda item: item[0])[1]


def _until_eos(seq, eos):
    return seq[:seq.index(eos)] if eos in seq else seq


def generate(decoder, context, source, vocab, max_new_tokens, beam_size=1, no_repeat_ngram=0, stop="argmax"):
    """Tokenizer-id sequences for a batch of contexts (B, H) and input captions (B, K, L):
    greedy when beam_size == 1; the rules are those of _apply_rules."""
    if beam_size == 1:
        return greedy(decoder, context, source, vocab, max_new_tokens, no_repeat_ngram, stop)
    return beam_search(decoder, context, source, vocab, max_new_tokens, beam_size, no_repeat_ngram, stop)


@dataclass(frozen=True)
class Generation:
    """How captions are generated: generate()'s settings. The evaluate params of the same names
    set them for the pipeline; the defaults are those params' committed values, for predict."""
    max_new_tokens: int = 160
    beam_size: int = 1
    no_repeat_ngram: int = 8
    stop: str = "median"

    @classmethod
    def from_params(cls, ev):
        return cls(**{f.name: ev[f.name] for f in fields(cls)})


def input_captions(cache, inputs, pad_id):
    """Tokenizer ids (B, K, L) of the windows' input captions, cut to the longest of them."""
    tokens = cache["token_ids"][inputs].long()
    return tokens[..., :int((tokens != pad_id).sum(-1).max())]


@torch.no_grad()
def predict(model, cache, windows, vocab, tokenizer, generation, batch_size=256, progress=None):
    """The model's (images on the CPU, captions) for every window, generated autoregressively on
    the device of the model and the cache with the Generation settings `generation`.
    Only frames 1..K of a window are read; progress(n) is called after each batch of n windows."""
    device = cache["image_features"].device
    images, captions = [], []
    for rows in windows["inputs"].to(device).split(batch_size):
        context, _ = model.window_context(cache["image_features"], cache["text_features"], rows)
        images.append(model.predict_image(context, target_pixels(cache, rows)).cpu())
        source = input_captions(cache, rows, vocab.special_id(vocab.pad))
        for seq in generate(model.text_decoder, context, source, vocab, **asdict(generation)):
            captions.append(tokenizer.decode(seq, skip_special_tokens=True))
        if progress:
            progress(len(rows))
    return torch.cat(images), captions


@torch.no_grad()
def model_outputs(model, cache, test, n_heatmap=12):
    """The model's views of the test windows, computed on the device of the model and the cache
    and returned on the CPU: predicted images, LSTM step outputs, projections of the target
    frames, and the image-text similarity of one target frame per test story."""
    device = cache["image_features"].device
    inputs, target = test["inputs"].to(device), test["target"].to(device)
    context, steps = model.window_context(cache["image_features"], cache["text_features"], inputs)
    predicted = model.predict_image(context, target_pixels(cache, inputs))
    first = {}
    for i, sid in enumerate(test["story_ids"]):
        first.setdefault(sid, test["target"][i].item())
    frames = torch.tensor(list(first.values())[:n_heatmap], device=device)
    image_emb, text_emb = model.project(cache["image_features"][frames], cache["text_features"][frames])
    all_image, all_text = model.project(cache["image_features"][target], cache["text_features"][target])
    similarity = F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    return {"predicted": predicted.cpu(), "steps": steps.cpu(), "frames": frames.cpu(),
            "heatmap_stories": list(first)[:n_heatmap], "similarity": similarity.cpu(),
            "image_norms": all_image.norm(dim=-1).cpu(), "text_norms": all_text.norm(dim=-1).cpu()}
