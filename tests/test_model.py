"""The seed's bugs stay fixed: shifted decoder input, [0,1] images at the target size, frozen
backbones, per-frame contrastive pairs, and generation that never sees the reference."""
import pytest
import torch

from storyseq.dataset import Vocabulary
from storyseq.decoding import generate
from storyseq.encoders import load_image_encoder
from storyseq.losses import info_nce
from storyseq.model import StoryModel
from storyseq.training import Targets, batch_losses, fit

K, N_FRAMES, L = 3, 12, 6


def tiny(target_size=16, vocab_size=10):
    torch.manual_seed(0)
    return StoryModel(image_dim=8, text_dim=6, vocab_size=vocab_size, embed_dim=8, hidden_dim=16,
                      target_size=target_size, dropout=0.0, image_channels=16)


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


def test_decoder_input_is_shifted_right():
    model, cache = tiny(), tiny_cache()
    seen, step = {}, model.text_decoder.step

    def spy(tokens, *args):
        seen["input"] = tokens
        return step(tokens, *args)

    model.text_decoder.step = spy
    w, v = windows(), vocab(tiny_cache())
    batch_losses(model, cache, Targets(cache, v, "cpu"), w["inputs"], w["target"], 0.5, 0.1)
    targets = v.encode(cache["token_ids"][w["target"]])[:, :3]
    assert torch.equal(seen["input"], targets[:, :-1])
    assert (seen["input"][:, 0] == v.bos).all() and not (seen["input"] == v.eos).any()


@pytest.mark.parametrize("size", [16, 32, 64])
def test_image_output_matches_the_target_size_and_range(size):
    model = tiny(target_size=size)
    image = model.image_decoder(torch.randn(5, 16) * 100, torch.rand(5, 3, size, size))
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


def test_generation_depends_on_the_context_only():
    model, cache = tiny(vocab_size=len(vocab(tiny_cache()))), tiny_cache()
    model.eval()
    v = vocab(cache)
    context, _ = model.window_context(cache["image_features"], cache["text_features"], windows()["inputs"])
    greedy = generate(model.text_decoder, context, v, max_new_tokens=5)
    assert greedy == generate(model.text_decoder, context, v, max_new_tokens=5)
    assert all(len(seq) <= 5 and v.eos not in seq for seq in greedy)
    beams = generate(model.text_decoder, context, v, max_new_tokens=5, beam_size=3)
    assert len(beams) == len(greedy)


def test_training_learns_the_next_token():
    cache = tiny_cache()
    v = vocab(cache)
    model = tiny(vocab_size=len(v))
    w = windows()
    t = {"epochs": 60, "batch_size": 4, "lr": 0.01, "weight_decay": 0.0, "lambda_contrastive": 0.1,
         "temperature": 0.1, "seed": 0}
    state, best_epoch, history = fit(model, cache, w, w, v, t)
    assert history[-1]["train_text"] < 0.2 * history[0]["train_text"]
    task = [row["val_image"] + row["val_text"] for row in history]
    assert best_epoch == 1 + min(range(60), key=lambda e: round(task[e], 5))
    model.load_state_dict(state)
    model.eval()
    context, _ = model.window_context(cache["image_features"], cache["text_features"], w["inputs"])
    generated = generate(model.text_decoder, context, v, max_new_tokens=4)
    expected = v.encode(cache["token_ids"][w["target"], 1:2]).tolist()
    assert generated == expected


def test_the_vocabulary_follows_the_device_of_its_input():
    """The GPU crash: ids on CUDA indexed a map on the CPU. 'meta' stands in for CUDA here."""
    v = Vocabulary([0, 1, 2, 3, 100, 200])
    ids = torch.tensor([[100, 200, 5, 40000]])
    assert v.encode(ids).tolist() == [[4, 5, v.unk, v.unk]]
    encoded = v.encode(ids.to("meta"))
    assert encoded.device.type == "meta" and v.decode(encoded).device.type == "meta"
