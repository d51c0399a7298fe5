"""The seed's bugs stay fixed: shifted decoder input, [0,1] images at the target size, frozen
backbones, per-frame contrastive pairs, and generation that never sees the reference. The copy
decoder copies tokens outside its vocabulary from the input captions."""
from types import SimpleNamespace

import pytest
import torch

from storyseq.embedding.encoders import load_image_encoder
from storyseq.embedding.features import target_pixels
from storyseq.evaluation.decoding import Generation, generate, input_captions, model_outputs, predict
from storyseq.model import training
from storyseq.model.dataset import Vocabulary
from storyseq.model.layers import Dropout
from storyseq.model.losses import info_nce
from storyseq.model.story_model import ModelConfig, StoryModel
from storyseq.model.text_decoders import extended_vocabulary, recurrence
from storyseq.model.training import Targets, TrainSettings, batch_losses, fit

K, N_FRAMES, L = 3, 12, 6


DECODERS = ("copy", "gru")
IMAGE_DECODERS = ("frames", "context")


def tiny(target_size=16, vocab_size=10, text_decoder="copy", image_decoder="frames"):
    torch.manual_seed(0)
    return StoryModel(ModelConfig(image_dim=8, text_dim=6, vocab_size=vocab_size, embed_dim=8, hidden_dim=16, token_dim=8,
                                  target_size=target_size, dropout=0.0, image_channels=16, text_decoder=text_decoder,
                                  k=K, max_tokens=L, image_decoder=image_decoder, frame_channels=8))


def tiny_cache():
    torch.manual_seed(1)
    token_ids = torch.zeros(N_FRAMES, L, dtype=torch.int32)
    for i in range(N_FRAMES):  # [CLS]=101, a word that depends on the frame, [SEP]=102, padding
        token_ids[i, :3] = torch.tensor([101, 1000 + i % 4, 102])
    return {"image_features": torch.randn(N_FRAMES, 8), "text_features": torch.randn(N_FRAMES, 6),
            "target_images": torch.randint(0, 256, (N_FRAMES, 3, 16, 16), dtype=torch.uint8), "token_ids": token_ids}


def windows(n=8):
    return {"inputs": torch.stack([torch.arange(i, i + K) for i in range(n)]), "target": torch.arange(K, K + n)}


def vocab(cache):
    return Vocabulary.from_tokens(cache["token_ids"], 0, 101, 102, 100)


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoder_input_is_shifted_right(decoder):
    model, cache = tiny(text_decoder=decoder), tiny_cache()
    seen, nll = {}, model.text_decoder.nll

    def spy(state, tokens, targets, vocab):
        seen["input"], seen["target"] = tokens, targets
        return nll(state, tokens, targets, vocab)

    model.text_decoder.nll = spy
    w, v = windows(), vocab(tiny_cache())
    batch_losses(model, cache, Targets(cache, v, "cpu"), v, w["inputs"], w["target"], 0.5, 0.1, 1.0)
    caption = cache["token_ids"][w["target"]][:, :3].long()
    assert torch.equal(seen["input"], caption[:, :-1]) and torch.equal(seen["target"], caption[:, 1:])
    assert (seen["input"][:, 0] == 101).all() and not (seen["input"] == 102).any()


def test_the_total_loss_weighs_the_image_term_by_train_image_weight():
    model, cache = tiny().eval(), tiny_cache()
    w, v = windows(), vocab(cache)
    for weight in (1.0, 10.0):
        losses = batch_losses(model, cache, Targets(cache, v, "cpu"), v, w["inputs"], w["target"], 0.5, 0.1, weight)
        torch.testing.assert_close(losses["total"], weight * losses["image"] + losses["text"] + 0.5 * losses["contrastive"])


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("image_decoder", IMAGE_DECODERS)
def test_image_output_matches_the_target_size_and_range(size, image_decoder):
    model = tiny(target_size=size, image_decoder=image_decoder)
    image = model.image_decoder(torch.randn(5, 16) * 100, torch.rand(5, K, 3, size, size))
    assert image.shape == (5, 3, size, size)
    assert image.min() >= 0 and image.max() <= 1


def test_backbones_are_frozen():
    for name in ("test_tiny_cnn", "efficientnet_lite0"):
        encoder = load_image_encoder(name)
        assert not encoder.net.training
        assert not any(p.requires_grad for p in encoder.net.parameters())


def test_contrastive_pairs_are_per_frame():
    torch.manual_seed(0)
    image = torch.randn(16, 8)
    aligned = info_nce(image, image.clone(), temperature=0.1)
    shuffled = info_nce(image, image[torch.randperm(16)], temperature=0.1)
    assert aligned < 0.1 < shuffled


def decode(model, cache, w, v, **kwargs):
    context, _ = model.window_context(cache["image_features"], cache["text_features"], w["inputs"])
    return generate(model.text_decoder, context, input_captions(cache, w["inputs"], 0), v, **kwargs)


@pytest.mark.parametrize("decoder", DECODERS)
def test_generation_never_sees_frame_k_plus_1(decoder):
    cache, w = tiny_cache(), windows()
    v = vocab(cache)
    model = tiny(vocab_size=len(v), text_decoder=decoder).eval()
    greedy = decode(model, cache, w, v, max_new_tokens=5)
    assert greedy == decode(model, cache, w, v, max_new_tokens=5)
    assert all(len(seq) <= 5 and 102 not in seq for seq in greedy)
    assert len(decode(model, cache, w, v, max_new_tokens=5, beam_size=3)) == len(greedy)
    first = {"inputs": w["inputs"][:1], "target": w["target"][:1]}
    changed = {k: t.clone() for k, t in cache.items()}
    for key in ("image_features", "text_features", "token_ids", "target_images"):  # frame K+1's features, caption, pixels
        changed[key][first["target"]] = changed[key][first["target"] + 1]
    assert not torch.equal(changed["token_ids"], cache["token_ids"])
    for beam in (1, 3):
        assert decode(model, changed, first, v, max_new_tokens=5, beam_size=beam) == \
            decode(model, cache, first, v, max_new_tokens=5, beam_size=beam)


@pytest.mark.parametrize("image_decoder", IMAGE_DECODERS)
def test_the_image_predictor_reads_frames_1_to_k_and_never_frame_k_plus_1(image_decoder):
    """Generation (decoding.predict, model_outputs) and training hand the image decoder the
    pixels of the window's input frames: frame K+1's pixels never change the predicted picture,
    and the frames decoder's picture follows frame K's pixels."""
    cache, w = tiny_cache(), windows()
    v = vocab(cache)
    model = tiny(vocab_size=len(v), image_decoder=image_decoder).eval()
    tokenizer = SimpleNamespace(decode=lambda seq, skip_special_tokens: " ".join(map(str, seq)))
    generation = Generation(beam_size=1, max_new_tokens=3, no_repeat_ngram=0, stop="argmax")

    def pictures(c):
        images, _ = predict(model, c, w, v, tokenizer, generation)
        outputs = model_outputs(model, c, {**w, "story_ids": ["s"] * len(w["target"])})
        torch.testing.assert_close(outputs["predicted"], images, rtol=0, atol=1e-6)
        return images

    seen = []
    model.image_decoder.register_forward_hook(lambda module, args, out: seen.append(args[1]))
    batch_losses(model, cache, Targets(cache, v, "cpu"), v, w["inputs"], w["target"], 0.5, 0.1, 1.0)
    assert torch.equal(seen[0], target_pixels(cache, w["inputs"]))
    before = pictures(cache)
    last = w["target"][-1]  # frame K+1 of the last window, and no window's input frame
    changed = {**cache, "target_images": cache["target_images"].clone()}
    changed["target_images"][last] = 255 - changed["target_images"][last]
    assert torch.equal(pictures(changed), before)
    if image_decoder == "frames":
        frame_k = w["inputs"][-1, -1]
        changed["target_images"][frame_k] = 255 - changed["target_images"][frame_k]
        assert not torch.equal(pictures(changed)[-1], before[-1])


@pytest.mark.parametrize("decoder", DECODERS)
def test_step_by_step_decoding_gives_the_teacher_forced_log_probs(decoder):
    """What generation computes one token at a time (the state carries the GRU and the coverage)
    is what training computes for the whole caption at once."""
    cache, w = tiny_cache(), windows()
    v = vocab(cache)
    model = tiny(vocab_size=len(v), text_decoder=decoder).eval()
    context, _ = model.window_context(cache["image_features"], cache["text_features"], w["inputs"])
    source, tokens = input_captions(cache, w["inputs"], 0), torch.tensor([[101, 1001, 1002, 1001, 1003]] * len(context))
    with torch.no_grad():
        whole, _ = model.text_decoder.step(model.text_decoder.start(context, source, v), tokens, v)
        state, steps = model.text_decoder.start(context, source, v), []
        for t in range(tokens.shape[1]):
            log_probs, state = model.text_decoder.step(state, tokens[:, t:t + 1], v)
            steps.append(log_probs)
    torch.testing.assert_close(torch.cat(steps, 1), whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize("decoder", DECODERS)
def test_training_learns_the_next_token(decoder):
    cache = tiny_cache()
    v = vocab(cache)
    model = tiny(vocab_size=len(v), text_decoder=decoder)
    w = windows()
    t = TrainSettings(epochs=60, batch_size=4, lr=0.01, weight_decay=0.0, lambda_contrastive=0.1, temperature=0.1,
                      image_weight=1.0, seed=0, schedule="constant", clip_norm=0.0, ema_decay=0.0, checkpoint="best_val")
    state, best_epoch, history = fit(model, cache, w, w, v, t)
    assert history[-1]["train_text"] < 0.2 * history[0]["train_text"]
    task = [row["val_image"] + row["val_text"] for row in history]
    assert best_epoch == 1 + min(range(60), key=lambda e: round(task[e], 5))
    model.load_state_dict(state)
    generated = decode(model.eval(), cache, w, v, max_new_tokens=4)
    assert generated == cache["token_ids"][w["target"], 1:2].tolist()


def test_the_last_checkpoint_is_the_last_epochs_weights(monkeypatch):
    """Where the val loss is lowest after epoch 1 (its text part scripted, so that the test does not
    hang on one training trajectory), best_val keeps epoch 1's weights and last the final ones."""
    real_epoch = training._epoch

    def scripted_val(model, cache, targets, vocab, windows, settings, order, update=None):
        losses = real_epoch(model, cache, targets, vocab, windows, settings, order, update)
        return losses if update is not None else {**losses, "text": next(val_text)}

    monkeypatch.setattr(training, "_epoch", scripted_val)
    cache = tiny_cache()
    v = vocab(cache)
    kept = {}
    for checkpoint in ("best_val", "last"):
        val_text = iter([1.0, 2.0, 3.0])
        model = tiny(vocab_size=len(v))
        t = TrainSettings(epochs=3, batch_size=4, lr=0.01, weight_decay=0.0, lambda_contrastive=0.1, temperature=0.1,
                          image_weight=1.0, seed=0, schedule="constant", clip_norm=0.0, ema_decay=0.0, checkpoint=checkpoint)
        state, epoch, history = fit(model, cache, windows(), windows(6), v, t)
        kept[checkpoint] = state, epoch
    assert min(history, key=lambda row: row["val_image_plus_text"])["epoch"] == 1 == kept["best_val"][1]
    final = model.state_dict()
    assert kept["last"][1] == 3 and all(torch.equal(kept["last"][0][k], final[k]) for k in final)
    assert not all(torch.equal(kept["best_val"][0][k], final[k]) for k in final)


def name_stories(n_stories, first_name):
    """A cache of stories of K + 1 frames whose captions are [CLS] <the story's name> <a shared word>
    [SEP]; each story has a name id of its own, so a test story's name is never seen in training."""
    n = n_stories * (K + 1)
    token_ids = torch.zeros(n, L, dtype=torch.int32)
    for i in range(n):
        token_ids[i, :4] = torch.tensor([101, first_name + i // (K + 1), 500 + i % 2, 102])
    torch.manual_seed(2)
    cache = {"image_features": torch.randn(n, 8), "text_features": torch.randn(n, 6),
             "target_images": torch.zeros(n, 3, 16, 16, dtype=torch.uint8), "token_ids": token_ids}
    starts = torch.arange(0, n, K + 1)
    return cache, {"inputs": starts[:, None] + torch.arange(K), "target": starts + K}


def test_the_copy_decoder_copies_a_name_outside_its_vocabulary():
    train, w = name_stories(16, first_name=2000)
    v = Vocabulary.from_tokens(train["token_ids"], 0, 101, 102, 100, size=6)  # the specials and the two words
    assert v.encode(train["token_ids"][:, 1]).eq(v.unk).all()
    model = tiny(vocab_size=len(v))
    t = TrainSettings(epochs=40, batch_size=8, lr=0.01, weight_decay=0.0, lambda_contrastive=0.0, temperature=0.1,
                      image_weight=1.0, seed=0, schedule="constant", clip_norm=0.0, ema_decay=0.0, checkpoint="last")
    state, _, _ = fit(model, train, w, w, v, t)
    model.load_state_dict(state)
    test, tw = name_stories(4, first_name=3000)  # names never seen in training
    generated = decode(model.eval(), test, tw, v, max_new_tokens=4)
    assert [seq[0] for seq in generated] == [3000, 3001, 3002, 3003]


def test_extended_vocabulary_adds_the_source_tokens_outside_the_vocabulary():
    v = Vocabulary([0, 1, 2, 3, 100, 200])
    index, extra = extended_vocabulary(v, torch.tensor([[100, 700, 3, 0], [500, 700, 200, 0]]))
    assert extra.tolist() == [500, 700]
    assert index.tolist() == [[4, 7, 3, 0], [6, 7, 5, 0]]


def test_recurrence_marks_the_captions_that_repeat_a_pair_of_tokens():
    """A pair recurs where the same two tokens follow each other in a caption (the last token pairs
    with the caption's end); a shared single token or padding does not count, and extra padding
    changes nothing."""
    source = torch.tensor([[[101, 5, 6, 102, 0], [101, 6, 5, 102, 0], [101, 5, 6, 7, 102]]])
    found = recurrence(source, source != 0)[0]
    assert found[:, 1].tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]  # (5, 6), (6, 5), (5, 6)
    assert found[0, 2].tolist() == [1, 0, 0] and found[2, 3].tolist() == [0, 0, 1]  # (6, 102), (7, 102)
    assert found[0, 3].tolist() == [1, 1, 1] and found[0, 4].tolist() == [0, 0, 0]  # (102, end), padding
    padded = torch.cat([source, torch.zeros(1, 3, 3, dtype=torch.long)], -1)
    assert torch.equal(recurrence(padded, padded != 0)[:, :, :5], found.unsqueeze(0))


def test_the_copy_decoders_memory_of_a_caption_does_not_depend_on_the_padding_of_its_batch():
    """A window's memory is the same whether its captions fill the batch's length or are padded to a
    longer one: padding never reaches the convolutions that mix each position with its neighbours."""
    model, cache = tiny().eval(), tiny_cache()
    source = cache["token_ids"][windows(2)["inputs"]].long()  # captions of 3 tokens, padded to L = 6
    context = torch.randn(2, 16)
    v = vocab(cache)
    short, padded = (model.text_decoder.start(context, s, v)["memory"].view(2, K, s.shape[-1], -1)
                     for s in (source[..., :3], source))
    assert torch.allclose(padded[:, :, :3], short, atol=1e-6)


def test_the_models_dropout_follows_nn_dropouts_law():
    """The same law as nn.Dropout: a fraction p of the entries zeroed, the others scaled by 1 / (1 - p),
    new draws on each call, and nothing in eval mode."""
    drop, x = Dropout(0.25), torch.ones(100_000)
    torch.manual_seed(0)
    first, second = drop(x), drop(x)
    assert torch.allclose(first.unique(), torch.tensor([0.0, 4 / 3]))
    assert abs((first == 0).float().mean().item() - 0.25) < 0.01 and not torch.equal(first, second)
    assert drop.eval()(x) is x


def test_the_vocabulary_keeps_the_most_frequent_ids():
    ids = torch.tensor([[101, 7, 7, 7, 9, 9, 8, 102, 0]])
    assert Vocabulary.from_tokens(ids, 0, 101, 102, 100, size=6).ids.tolist() == [0, 101, 102, 100, 7, 9]
    assert len(Vocabulary.from_tokens(ids, 0, 101, 102, 100)) == 7


def test_the_vocabulary_follows_the_device_of_its_input():
    """The GPU crash: ids on CUDA indexed a map on the CPU. 'meta' stands in for CUDA here."""
    v = Vocabulary([0, 1, 2, 3, 100, 200])
    ids = torch.tensor([[100, 200, 5, 40000]])
    assert v.encode(ids).tolist() == [[4, 5, v.unk, v.unk]]
    encoded = v.encode(ids.to("meta"))
    assert encoded.device.type == "meta" and v.decode(encoded).device.type == "meta"
