"""`make bench`: side-by-side ratios measured in one run on this machine; prints a table and
writes bench/results.json. Run from the repository root with the venv active (make does)."""
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from conftest import SMALL, make_project, run, update_params  # noqa: E402

from storyseq import synthetic  # noqa: E402
from storyseq.encoders import load_image_encoder, load_text_encoder  # noqa: E402
from storyseq.features import load_pixels, to_batch  # noqa: E402

N_FRAMES, BATCH, IMAGE_SIZE = 256, 32, 160


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def frames(n):
    images = []
    for story in synthetic.stories(n, seed=1):
        images += [img["bytes"] for img in story["images"]]
    return images[:n]


def embed_vs_bare(encoder, images):
    """The stage's image path (decode, resize, batch, forward, store) vs a bare forward."""
    store = torch.empty(len(images), encoder.dim)
    pre_made = [to_batch([load_pixels(b, IMAGE_SIZE, 32)[0] for b in images[i:i + BATCH]], "cpu")
                for i in range(0, len(images), BATCH)]

    def stage_path():
        for i in range(0, len(images), BATCH):
            store[i:i + BATCH] = encoder(to_batch([load_pixels(b, IMAGE_SIZE, 32)[0] for b in images[i:i + BATCH]], "cpu"))

    def bare():
        for batch in pre_made:
            encoder(batch)

    with torch.inference_mode():
        bare()  # warm-up
        t_bare, t_stage = timed(bare), timed(stage_path)
    return {"embed_vs_bare": t_bare / t_stage, "embed_images_per_s": len(images) / t_stage,
            "bare_images_per_s": len(images) / t_bare}


def cached_vs_inloop(encoder, text_encoder, images, texts, n_windows=48, k=4):
    """One epoch of forward passes with the frozen encoders inside the loop (the seed's way)
    vs on cached features, for the same windows and batch size."""
    feats = torch.randn(len(images), encoder.dim), torch.randn(len(images), text_encoder.dim)
    head = torch.nn.Linear(encoder.dim + text_encoder.dim, 256)
    windows = [list(range(i, i + k + 1)) for i in range(n_windows)]

    def in_loop():
        for w in range(0, n_windows, 16):
            rows = [r for win in windows[w:w + 16] for r in win]
            with torch.no_grad():
                img = encoder(to_batch([load_pixels(images[r], IMAGE_SIZE, 32)[0] for r in rows], "cpu"))
                txt = text_encoder([texts[r] for r in rows])
            head(torch.cat([img, txt], -1)).sum().backward()

    def cached():
        for w in range(0, n_windows, 16):
            rows = torch.tensor([r for win in windows[w:w + 16] for r in win])
            head(torch.cat([feats[0][rows], feats[1][rows]], -1)).sum().backward()

    return {"cached_vs_inloop": timed(in_loop) / timed(cached)}


def dvc_times(folder):
    run(["dvc", "repro"], folder)
    cold = timed(lambda: run(["dvc", "repro", "--force"], folder))
    update_params(folder, {"train": {"lambda_contrastive": 0.25}})
    incremental = timed(lambda: run(["dvc", "repro"], folder))
    noop = min(timed(lambda: run(["dvc", "repro"], folder)) for _ in range(3))
    return cold, incremental, noop


def trivial_noop(folder):
    folder = Path(folder)
    (folder / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
                                     "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n")
    run(["git", "init", "-q"], folder)
    run(["dvc", "init", "-q"], folder)
    run(["dvc", "repro"], folder)
    return min(timed(lambda: run(["dvc", "repro"], folder)) for _ in range(3))


def peak_rss_and_time(folder, n_stories):
    """Peak RSS (KiB) of fetch, window and embed at n_stories, and their total wall time."""
    update_params(folder, {"data": {"n_stories": n_stories}})
    rss, wall = {}, 0.0
    for stage in ("fetch", "window", "embed"):
        start = time.perf_counter()
        out = run(["/usr/bin/time", "-f", "%M", "python", "-m", f"stages.{stage}"], folder)
        wall += time.perf_counter() - start
        rss[stage] = int(out.stderr.strip().splitlines()[-1])
    return rss, wall


def main():
    torch.manual_seed(0)
    encoder, text_encoder = load_image_encoder("efficientnet_lite0"), load_text_encoder("all-MiniLM-L6-v2")
    encoder.net.to(memory_format=torch.channels_last)
    images = frames(N_FRAMES)
    texts = [f"the red circle hops over a puddle at the left {i}" for i in range(N_FRAMES)]
    results = {**embed_vs_bare(encoder, images), **cached_vs_inloop(encoder, text_encoder, images, texts)}
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        cold, incremental, noop = dvc_times(make_project(a, SMALL))
        results.update(incremental_vs_cold=incremental / cold, noop_vs_trivial=noop / trivial_noop(b))
    with tempfile.TemporaryDirectory() as c:
        folder = make_project(c, {"data": {"n_stories": 25}})
        rss_1, t_1 = peak_rss_and_time(folder, 25)
        rss_4, t_4 = peak_rss_and_time(folder, 100)
        results.update({f"rss_4x_{s}": rss_4[s] / rss_1[s] for s in rss_1}, time_4x=t_4 / t_1)
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    (ROOT / "bench/results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"{'key':24} value")
    for key, value in results.items():
        print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")


if __name__ == "__main__":
    main()
