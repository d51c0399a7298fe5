"""The `encoders` group: the embed stage's image path against what decode and forward allow, the
encoder runtimes, and cached features against encoding inside the training loop."""
import functools
import os
from concurrent.futures import ProcessPoolExecutor

import torch
from measure import DEFAULTS, E, K, T, sgemm_gflops, timed, train_step
from torch.utils.flop_counter import FlopCounterMode

from storyseq.core.runtime import resolve_runtime
from storyseq.data import markup, synthetic
from storyseq.embedding.encoders import image_encoder_for, load_text_encoder
from storyseq.embedding.features import decode_images
from storyseq.embedding.streaming import (DECODE_CHUNK, decode_workers, encoder_batch_size, one_torch_thread,
                                          prefetched, regrouped, usable_cores)
from storyseq.model.dataset import Vocabulary
from storyseq.model.story_model import ModelConfig, StoryModel
from storyseq.model.training import Targets

N_FRAMES = 256
BATCH = encoder_batch_size(E["batch_size"], torch.device("cpu"))


def frames(n):
    images, texts = [], []
    for story in synthetic.stories(n, seed=1):
        images += [img["bytes"] for img in story["images"]]
        texts += markup.frame_texts(story["story"], len(story["images"]))
    return images[:n], texts[:n]


decode = functools.partial(decode_images, image_size=E["image_size"], target_size=E["target_size"])


def pixels(images):
    return decode(images)[0]


def images_per_s(encoder, batches):
    with torch.inference_mode():
        encoder(batches[0])  # warm-up
        return sum(len(b) for b in batches) / timed(lambda: [encoder(b) for b in batches])


def embed_vs_limit(encoder, images):
    """The stage's image path (decode, resize, batch, forward, store) vs the limit that decode and
    forward allow together on these cores, 1 / (1/forward + 1/decode): forward is a bare forward
    on pre-made tensors, decode is decode-and-resize on all cores, each measured alone."""
    workers = decode_workers(E["decode_workers"], torch.device("cpu"))
    chunks = [images[i:i + DECODE_CHUNK] for i in range(0, len(images), DECODE_CHUNK)]
    store = torch.empty(len(images), encoder.dim)

    def stage_path():
        start = 0
        for big, _ in regrouped(prefetched(decode, chunks, workers), BATCH):
            store[start:start + len(big)] = encoder(big)
            start += len(big)

    def decode_all():
        with ProcessPoolExecutor(usable_cores(), initializer=one_torch_thread) as pool:
            list(pool.map(decode, chunks))

    pre_made = [pixels(images[i:i + BATCH]) for i in range(0, len(images), BATCH)]
    forward = images_per_s(encoder, pre_made)
    decoded = len(images) / timed(decode_all)
    limit = 1 / (1 / forward + 1 / decoded)
    with torch.inference_mode():
        stage = len(images) / timed(stage_path)
    return {"embed_vs_limit": stage / limit, "embed_images_per_s": stage, "bare_images_per_s": forward,
            "decode_images_per_s": decoded, "limit_images_per_s": limit}


def encoder_speed(images):
    """Images/s of the torch encoder (eager channels_last; torch.compile) vs ONNX Runtime,
    and the achieved GFLOP/s against this CPU's peak."""
    torch_encoder = image_encoder_for(E["image_encoder"], "torch", "cpu", E["image_size"])
    onnx_encoder = image_encoder_for(E["image_encoder"], "onnxruntime", "cpu", E["image_size"])
    batches = [pixels(images[i:i + BATCH]) for i in range(0, len(images), BATCH)]
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        torch_encoder(batches[0][:1])
    gflop = counter.get_total_flops() / 1e9
    eager, onnx = images_per_s(torch_encoder, batches), images_per_s(onnx_encoder, batches)
    compile_s = timed(lambda: images_per_s(torch.compile(torch_encoder.net), batches[:1]))
    compiled = images_per_s(torch.compile(torch_encoder.net), batches)
    sgemm = sgemm_gflops()
    mhz = max(float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz"))
    nominal = os.cpu_count() * mhz / 1e3 * 32  # two 256-bit FMA pipes: 32 FP32 FLOPs per cycle per core
    return {"encoder_gflop_per_image": gflop, "torch_eager_images_per_s": eager, "onnxruntime_images_per_s": onnx,
            "onnxruntime_vs_torch": onnx / eager, "torch_compile_vs_eager": compiled / eager,
            "torch_compile_s": compile_s, "achieved_gflops": gflop * onnx, "sgemm_gflops": sgemm,
            "nominal_peak_gflops": nominal, "achieved_vs_sgemm": gflop * onnx / sgemm,
            "achieved_vs_nominal_peak": gflop * onnx / nominal}


def cached_vs_inloop(image_encoder, text_encoder, images, texts, n_windows=128):
    """One training epoch of the real model (losses, backward, AdamW step) with the frozen
    encoders run on every frame of every window inside the loop, as the original project did,
    vs on cached features; the same windows and batch size."""
    tokenizer = text_encoder.tokenizer
    ids = tokenizer(texts, padding="max_length", truncation=True, max_length=E["max_tokens"])["input_ids"]
    token_ids = torch.tensor(ids, dtype=torch.int32)
    targets = decode_images(images, 32, E["target_size"])[1]
    vocab = Vocabulary.from_tokens(token_ids, tokenizer.pad_token_id, tokenizer.cls_token_id,
                                   tokenizer.sep_token_id, tokenizer.unk_token_id)
    model = StoryModel(ModelConfig.from_params(DEFAULTS.model, image_dim=image_encoder.dim, text_dim=text_encoder.dim,
                                               vocab_size=len(vocab), target_size=E["target_size"], k=K,
                                               max_tokens=E["max_tokens"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=T["lr"])
    windows = torch.stack([torch.arange(i, i + K + 1) for i in range(n_windows)])

    def encode(rows):
        with torch.inference_mode():
            return {"image_features": image_encoder(pixels([images[r] for r in rows.tolist()])).clone(),
                    "text_features": text_encoder([texts[r] for r in rows.tolist()]).clone(),
                    "token_ids": token_ids[rows], "target_images": targets[rows]}

    cached = encode(torch.arange(len(images)))
    cached_targets = Targets(cached, vocab, "cpu")

    def epoch(in_loop):
        for rows in windows.split(T["batch_size"]):
            if in_loop:
                cache, rows = encode(rows.flatten()), torch.arange(rows.numel()).view(rows.shape)
                targets = Targets(cache, vocab, "cpu")
            else:
                cache, targets = cached, cached_targets
            train_step(model, optimizer, cache, targets, vocab, rows)

    epoch(False)  # warm-up
    return {"cached_vs_inloop": timed(lambda: epoch(True)) / timed(lambda: epoch(False))}


def encoders():
    runtime = resolve_runtime(E["runtime"], torch.device("cpu"), "embed.runtime")
    image_encoder = image_encoder_for(E["image_encoder"], runtime, "cpu", E["image_size"])
    images, texts = frames(N_FRAMES)
    return {**embed_vs_limit(image_encoder, images), **encoder_speed(images),
            **cached_vs_inloop(image_encoder, load_text_encoder(E["text_encoder"]), images, texts)}
