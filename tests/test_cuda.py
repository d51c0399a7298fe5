"""Every computing stage's code path on CUDA, against the CPU: embed (test-only encoders), train,
generation (the copy decoder: attention, copying tokens outside its capped vocabulary, greedy and
beam), the baselines' search and the plot stage's model calls. It needs only what a stock
CUDA PyTorch image has (`make gpu-check`), and is skipped where CUDA is absent.

Tolerances: frozen features in fp32 with TF32 off agree with the CPU's to a relative L2 distance
below 1e-4 per frame; two CUDA runs give the same bytes; training for two epochs on either device
gives losses within 1e-3 (relative) of each other, since summation orders differ; the same weights
give the same greedy captions on at least 95% of the windows (a near-tie may flip one argmax)."""
import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from storyseq.core.runtime import seed_everything, set_precision
from storyseq.embedding import features, streaming
from storyseq.embedding.encoders import image_encoder_for
from storyseq.evaluation.baselines import nearest_neighbor
from storyseq.evaluation.decoding import Generation, generate, input_captions, model_outputs, predict
from storyseq.fixtures.gpu_data import tiny_text_encoder, write_frames
from storyseq.fixtures.project import ROOT
from storyseq.model.dataset import Vocabulary, load_windows
from storyseq.model.story_model import ModelConfig, StoryModel
from storyseq.model.training import TrainSettings, fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device here; run `make gpu-check` on a machine with one")
CPU, CUDA = torch.device("cpu"), torch.device("cuda")
EMBED = {"image_size": 32, "target_size": 16, "max_tokens": 40, "batch_size": 8}
MODEL = {"embed_dim": 32, "hidden_dim": 32, "token_dim": 16, "dropout": 0.0, "image_channels": 16,  # CPU and CUDA dropout masks differ
         "text_decoder": "copy"}
GENERATION = Generation(max_new_tokens=20)  # the default rules
VOCAB_SIZE = 12  # below the captions' ids, so that generation must copy some
TRAIN = {"epochs": 2, "batch_size": 16, "lr": 0.002, "weight_decay": 0.01, "lambda_contrastive": 0.5,
         "image_weight": 1.0, "temperature": 0.07, "seed": 0,
         "schedule": "constant", "clip_norm": 0.0, "ema_decay": 0.0,
         "checkpoint": "last"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """(folder with frames.parquet and windows.parquet, frame texts, tokenizer)."""
    folder = tmp_path_factory.mktemp("cuda")
    texts = write_frames(folder, n_stories=12)
    return folder, texts, tiny_text_encoder(texts, folder).tokenizer


def embed(folder, texts, device, workers):
    seed_everything(0)
    image_encoder = image_encoder_for("test_tiny_cnn", "torch", device, EMBED["image_size"])
    text_encoder = tiny_text_encoder(texts, folder)
    text_encoder.model.to(device)
    return streaming.embed_frames(folder / "frames.parquet", image_encoder, text_encoder,
                                 {**EMBED, "decode_workers": workers}, device, set_precision("fp32", device, "p"))


@pytest.fixture(scope="module")
def caches(data):
    """Feature caches embedded on the CPU, on CUDA with 4 decode workers, and on CUDA with 1."""
    folder, texts, _ = data
    return embed(folder, texts, CPU, 1), embed(folder, texts, CUDA, 4), embed(folder, texts, CUDA, 1)


def max_relative_l2(a, b):
    return float(((a - b).norm(dim=1) / b.norm(dim=1)).max())


def test_embed_on_cuda_matches_the_cpu_and_repeats_bytes(caches):
    cpu, cuda, again = caches
    for key in ("image_features", "text_features", "target_images", "token_ids"):
        assert torch.equal(cuda[key], again[key]), f"{key}: two CUDA runs (4 and 1 decode workers) differ"
    assert torch.equal(cuda["target_images"], cpu["target_images"]) and torch.equal(cuda["token_ids"], cpu["token_ids"])
    assert max_relative_l2(cuda["image_features"], cpu["image_features"]) < 1e-4
    assert max_relative_l2(cuda["text_features"], cpu["text_features"]) < 1e-4


def config(cache, vocab):
    return ModelConfig(image_dim=cache["image_features"].shape[1], text_dim=cache["text_features"].shape[1],
                       vocab_size=len(vocab), target_size=EMBED["target_size"], k=4, max_tokens=EMBED["max_tokens"],
                       **MODEL)


def train(folder, tokenizer, cache, device):
    """(model in eval mode, its cache on `device`, windows, vocab, history) after TRAIN's epochs."""
    seed_everything(0)
    windows = load_windows(folder / "windows.parquet", cache)
    vocab = Vocabulary.from_tokens(cache["token_ids"], tokenizer.pad_token_id, tokenizer.cls_token_id,
                                   tokenizer.sep_token_id, tokenizer.unk_token_id, size=VOCAB_SIZE)
    model = StoryModel(config(cache, vocab)).to(device)
    on_device = features.on_device(cache, device)
    state, _, history = fit(model, on_device, windows["train"], windows["val"], vocab, TrainSettings(**TRAIN))
    model.load_state_dict(state)
    return model.eval(), on_device, windows, vocab, history


@pytest.fixture(scope="module")
def trained(data, caches):
    """Trained on the CPU, on CUDA, and on CUDA again."""
    folder, _, tokenizer = data
    cpu, cuda, _ = caches
    return train(folder, tokenizer, cpu, CPU), train(folder, tokenizer, cuda, CUDA), train(folder, tokenizer, cuda, CUDA)


def on_the_cpu(model, cache, vocab):
    """A CPU copy of a CUDA-trained model, and the cache it reads, on the CPU."""
    copy = StoryModel(config(cache, vocab))
    copy.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    return copy.eval(), features.on_device(cache, CPU)


def test_training_on_cuda_repeats_bytes_and_tracks_the_cpu(trained):
    (_, _, _, _, cpu_history), (model, *_, history), (again, *_, again_history) = trained
    assert history == again_history
    for name, weight in model.state_dict().items():
        assert torch.equal(weight, again.state_dict()[name]), name
    for row, cpu_row in zip(history, cpu_history):
        for key, value in row.items():
            assert value == pytest.approx(cpu_row[key], rel=1e-3), key


def test_generation_and_baselines_on_cuda_match_the_cpu(data, trained):
    _, _, tokenizer = data
    model, cache, windows, vocab, _ = trained[1]
    cpu_model, cpu_cache = on_the_cpu(model, cache, vocab)
    test = windows["test"]
    images, captions = predict(model, cache, test, vocab, tokenizer, GENERATION)
    again = predict(model, cache, test, vocab, tokenizer, GENERATION)
    assert torch.equal(again[0], images) and again[1] == captions
    cpu_images, cpu_captions = predict(cpu_model, cpu_cache, test, vocab, tokenizer, GENERATION)
    torch.testing.assert_close(images, cpu_images, rtol=0, atol=1e-5)
    same = sum(a == b for a, b in zip(captions, cpu_captions))
    assert same >= 0.95 * len(captions), f"{same} of {len(captions)} greedy captions agree"

    inputs = test["inputs"][:4]
    context, _ = model.window_context(cache["image_features"], cache["text_features"], inputs.cuda())
    cpu_context, _ = cpu_model.window_context(cpu_cache["image_features"], cpu_cache["text_features"], inputs)
    source, cpu_source = (input_captions(c, i, tokenizer.pad_token_id) for c, i in ((cache, inputs.cuda()),
                                                                                     (cpu_cache, inputs)))
    beams = generate(model.text_decoder, context, source, vocab, 20, 3)
    assert beams == generate(cpu_model.text_decoder, cpu_context, cpu_source, vocab, 20, 3)
    state = model.text_decoder.start(context, source, vocab)
    assert len(state["extra"]), "every input token is in the vocabulary: the copy path is not exercised"
    bos = torch.full((len(inputs), 1), tokenizer.cls_token_id, device="cuda")
    log_probs, _ = model.text_decoder.step(state, bos, vocab)
    assert torch.isfinite(log_probs[:, -1, len(vocab):]).any(1).all(), "an input token outside the vocabulary cannot be copied"
    train_windows = {k: windows["train"][k] for k in ("inputs", "target")}
    on_gpu = nearest_neighbor(cache, {k: v.cuda() for k, v in train_windows.items()}, {"inputs": test["inputs"].cuda()})
    assert torch.equal(on_gpu.cpu(), nearest_neighbor(cpu_cache, train_windows, test))


def test_plot_model_calls_on_cuda_match_the_cpu(trained):
    model, cache, windows, vocab, _ = trained[1]
    views = model_outputs(model, cache, windows["test"])
    cpu_views = model_outputs(*on_the_cpu(model, cache, vocab), windows["test"])
    for key, value in views.items():
        if torch.is_tensor(value):
            assert value.device.type == "cpu", key
            torch.testing.assert_close(value, cpu_views[key], rtol=1e-4, atol=1e-5, msg=key)
        else:
            assert value == cpu_views[key], key


def test_the_train_stage_runs_on_cuda(data, caches, tmp_path):
    # dvclive.live, not dvclive: the repo's dvclive/ log folder imports as an empty namespace package
    pytest.importorskip("dvclive.live", reason="the train stage logs with dvclive, which this image lacks")
    folder, _, tokenizer = data
    cache = caches[1]
    meta = {"image_dim": cache["image_features"].shape[1], "text_dim": cache["text_features"].shape[1],
            "target_size": EMBED["target_size"], "tokenizer": "test_gpu_bert", "pad_id": tokenizer.pad_token_id,
            "bos_id": tokenizer.cls_token_id, "eos_id": tokenizer.sep_token_id, "unk_id": tokenizer.unk_token_id}
    features.save(cache, meta, tmp_path / "data/features")
    (tmp_path / "data/windows.parquet").write_bytes((folder / "windows.parquet").read_bytes())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["model"].update({**MODEL, "dropout": 0.1, "max_vocab_size": VOCAB_SIZE})
    params["train"].update({**TRAIN, "device": "cuda"})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, "-m", "stages.train"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "dvclive/metrics.json").read_text())["step"] == TRAIN["epochs"]
