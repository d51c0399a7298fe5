"""`make gpu-bench`: the GPU's figures, on a stock CUDA PyTorch image (no venv, no dvc); the
efficientnet wheels travel with it (`make gpu-wheels`). Writes bench/gpu_results.json.

- embed: the stage's image path (decode and resize on all cores, pinned copy, forward, store) on
  real-size JPEG frames, against the forward-only limit and the decode limit, each alone;
- precision: forward img/s and feature drift from the CPU for fp32, tf32 and bf16;
- train: s/epoch on the default run's features (data/features, data/windows.parquet), if present."""
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
from storyseq.core.errors import StageError  # noqa: E402
from storyseq.core.runtime import seed_everything, set_precision  # noqa: E402
from storyseq.embedding import features, streaming  # noqa: E402
from storyseq.embedding.encoders import image_encoder_for  # noqa: E402
from storyseq.fixtures.gpu_data import tiny_text_encoder, write_frames  # noqa: E402
from storyseq.model.dataset import Vocabulary, load_windows  # noqa: E402
from storyseq.model.story_model import ModelConfig, StoryModel  # noqa: E402
from storyseq.model.training import TrainSettings, fit  # noqa: E402

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
E = PARAMS["embed"]
CUDA = torch.device("cuda")
BATCH = streaming.encoder_batch_size(E["batch_size"], CUDA)


def rate(n, fn, repeat=2):
    """Items per second of fn() over n items, best of `repeat` after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return n / best


def decode(images):
    return features.decode_images(images, E["image_size"], E["target_size"])


def decode_limits(images, many, cores):
    """Decode-and-resize img/s with all cores: in processes (as the stage) on `many` frames, in
    threads and in one thread on `images`."""
    chunk = streaming.DECODE_CHUNK
    out = {}
    for kind, pool, frames in (("processes", ProcessPoolExecutor, many), ("threads", ThreadPoolExecutor, images)):
        chunks = [frames[i:i + chunk] for i in range(0, len(frames), chunk)]
        with pool(cores, initializer=streaming.one_torch_thread) as p:
            out[f"decode_{kind}_img_per_s"] = rate(len(frames), lambda: list(p.map(decode, chunks)), repeat=1)
    out["decode_one_thread_img_per_s"] = rate(len(images), lambda: decode(images), repeat=1)
    return out


def forward_limit(encoder, pixels, batch_size, precision):
    on_gpu = [pixels[i:i + batch_size].to(CUDA) for i in range(0, len(pixels), batch_size)]
    with torch.inference_mode(), precision:
        return rate(len(pixels), lambda: [encoder(b) for b in on_gpu])


def bench_encoder(name, frames_path, n_frames, images, cores, decode_limit):
    """The stage's image path on the n_frames of frames_path, against the forward-only limit on
    `images` (decoded beforehand) and the decode limit."""
    try:
        encoder = image_encoder_for(name, "torch", CUDA, E["image_size"])
    except (StageError, ImportError) as err:
        return {"unavailable": str(err)}
    pixels = decode(images)[0]
    fp32 = set_precision("fp32", CUDA, "embed.precision")
    stage = rate(n_frames, lambda: streaming.embed_images(frames_path, encoder, E["image_size"], E["target_size"],
                                                             BATCH, CUDA, cores, fp32), repeat=1)
    out = {"stage_img_per_s": stage, "batch_size": BATCH,
           **{f"forward_b{b}_img_per_s": forward_limit(encoder, pixels, b, fp32) for b in (32, BATCH)}}
    limit = min(out[f"forward_b{BATCH}_img_per_s"], decode_limit)
    out.update(limit_img_per_s=limit, stage_vs_limit=stage / limit)
    cpu = image_encoder_for(name, "torch", torch.device("cpu"), E["image_size"])
    sample = pixels[:64]
    with torch.inference_mode():
        reference = cpu(sample)
    for precision in ("fp32", "tf32", "bf16"):
        context = set_precision(precision, CUDA, "embed.precision")
        out[f"{precision}_forward_b256_img_per_s"] = forward_limit(encoder, pixels, 256, context)
        with torch.inference_mode(), context:
            got = encoder(sample.to(CUDA)).float().cpu()
        out[f"{precision}_max_relative_l2_vs_cpu"] = float(((got - reference).norm(dim=1) / reference.norm(dim=1)).max())
    set_precision("fp32", CUDA, "embed.precision")
    return out


def bench_text(texts, folder):
    encoder = tiny_text_encoder(texts, folder)
    encoder.model.to(CUDA)
    fp32 = set_precision("fp32", CUDA, "embed.precision")
    return {"test_gpu_bert_sentences_per_s": rate(len(texts), lambda: streaming.embed_texts(
        texts, encoder, E["max_tokens"], BATCH, CUDA, fp32), repeat=1)}


def bench_train():
    """Seconds per epoch of the default train params on the default run's features, CUDA vs CPU."""
    folder = ROOT / "data"
    if not (folder / "features").exists():
        return {"train": "skipped: no data/features (carry the default run's data/features and windows.parquet)"}
    cache, meta = features.load(folder / "features")
    windows = load_windows(folder / "windows.parquet", cache)
    rows = torch.cat([windows["train"]["inputs"].flatten(), windows["train"]["target"]]).unique()
    vocab = Vocabulary.from_tokens(cache["token_ids"][rows], meta["pad_id"], meta["bos_id"], meta["eos_id"],
                                   meta["unk_id"])
    out = {}
    for device, epochs in ((CUDA, PARAMS["train"]["epochs"]), (torch.device("cpu"), 2)):
        seed_everything(PARAMS["train"]["seed"])
        config = ModelConfig.from_params(PARAMS["model"], image_dim=meta["image_dim"], text_dim=meta["text_dim"],
                                         vocab_size=len(vocab), target_size=meta["target_size"])
        model = StoryModel(config).to(device)
        on_device = {**features.on_device(cache, device), "token_ids": cache["token_ids"]}
        torch.cuda.synchronize()
        start = time.perf_counter()
        fit(model, on_device, windows["train"], windows["val"], vocab, TrainSettings.from_params(PARAMS["train"], epochs=epochs))
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        out[f"train_{device.type}_s_per_epoch"] = seconds / epochs
        out[f"train_{device.type}_epochs"] = epochs
    if os.environ.get("GPU_BENCH_PROFILE"):
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fit(model.to(CUDA), {**features.on_device(cache, CUDA), "token_ids": cache["token_ids"]}, windows["train"],
                windows["val"], vocab, TrainSettings.from_params(PARAMS["train"], epochs=1))
        (ROOT / "bench/gpu_profile.txt").write_text(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    out["train_cuda_default_epochs_s"] = out["train_cuda_s_per_epoch"] * PARAMS["train"]["epochs"]
    out["train_cuda_vs_cpu"] = out["train_cpu_s_per_epoch"] / out["train_cuda_s_per_epoch"]
    return out


def main():
    if not torch.cuda.is_available():
        print("no GPU: make gpu-bench needs a CUDA device")
        return
    cores = streaming.usable_cores()
    results = {"machine": f"{torch.cuda.get_device_name()}, {cores} cores, {platform.machine()}, "
                          f"torch {torch.__version__}, CUDA {torch.version.cuda}"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = write_frames(folder, n_stories=int(os.environ.get("GPU_BENCH_STORIES", 160)), jpeg=True)
        table = pq.read_table(folder / "frames.parquet")
        many = pa.concat_tables([table] * int(os.environ.get("GPU_BENCH_REPEAT", 8)))  # the same JPEGs, more of them
        pq.write_table(many, folder / "many.parquet")
        images = table.column("image").to_pylist()
        results.update(frames=len(images), stage_frames=len(many))
        results.update(decode_limits(images, many.column("image").to_pylist(), cores))
        for name in ("efficientnet_lite0", "test_tiny_cnn"):  # resnet weights cannot be downloaded there
            results[name] = bench_encoder(name, folder / "many.parquet", len(many), images, cores,
                                          results["decode_processes_img_per_s"])
        results.update(bench_text(texts, folder))
    results.update(bench_train())
    (ROOT / "bench/gpu_results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
