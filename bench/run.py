"""`make bench`: side-by-side ratios measured in one run on this machine; prints a table and
writes bench/results.json. Run from the repository root with the venv active (make does).
`python bench/run.py noop real_step` runs only those groups of keys (GROUPS) and only prints them."""
import functools
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from storyseq import compare  # noqa: E402
from storyseq.core import params as P  # noqa: E402
from storyseq.core.runtime import resolve_runtime  # noqa: E402
from storyseq.data import markup, synthetic  # noqa: E402
from storyseq.embedding import features  # noqa: E402
from storyseq.embedding.encoders import image_encoder_for, load_text_encoder  # noqa: E402
from storyseq.embedding.features import decode_images  # noqa: E402
from storyseq.embedding.streaming import (DECODE_CHUNK, decode_workers, encoder_batch_size,  # noqa: E402
                                          one_torch_thread, prefetched, regrouped, usable_cores)
from storyseq.fixtures.project import SMALL, commit, make_project, ran_stages, run, update_params  # noqa: E402
from storyseq.model.dataset import Vocabulary, load_windows  # noqa: E402
from storyseq.model.story_model import ModelConfig, StoryModel  # noqa: E402
from storyseq.model.training import Targets, batch_losses, build  # noqa: E402

N_FRAMES, K = 256, 4
DEFAULTS = P.load("data", "embed", "model", "train", path=ROOT / "params.yaml")
E, T = DEFAULTS.embed, DEFAULTS.train
BATCH = encoder_batch_size(E["batch_size"], torch.device("cpu"))


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed_in_turn(calls, rounds):
    """Seconds of each of `calls` (functions of the round number) in each of `rounds` rounds, the
    calls taking turns within a round, so that a change of load on a shared machine hits all alike."""
    times = [[] for _ in calls]
    for i in range(rounds):
        for call, taken in zip(calls, times):
            taken.append(timed(lambda: call(i)))
    return times


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


def sgemm_gflops(n=2048):
    """This CPU's float32 matrix-multiply rate: the practical ceiling of a dense model."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    return 10 * 2 * n ** 3 / timed(lambda: [a @ b for _ in range(10)]) / 1e9


def train_flops(folder):
    """The train stage's achieved GFLOP/s on the project in `folder` (after a repro): the FLOPs of
    one epoch (training steps forward and backward, the val pass forward), counted by
    FlopCounterMode, times train.epochs, over the wall time of `python -m stages.train` run there."""
    params = P.load("model", "train", path=folder / "params.yaml")
    cache, meta = features.load(folder / "data/features")
    windows = load_windows(folder / "data/windows.parquet", cache)
    config, vocab = build(params.model, cache, meta, windows)
    model, t = StoryModel(config), params.train
    targets = Targets(cache, vocab, "cpu")

    def losses(split, rows):
        w = windows[split]
        return batch_losses(model, cache, targets, vocab, w["inputs"][rows], w["target"][rows],
                            t["lambda_contrastive"], t["temperature"])["total"]

    with FlopCounterMode(display=False) as counter:
        for rows in torch.arange(len(windows["train"]["target"])).split(t["batch_size"]):
            losses("train", rows).backward()
        with torch.no_grad():
            for rows in torch.arange(len(windows["val"]["target"])).split(t["batch_size"]):
                losses("val", rows)
    gflop = counter.get_total_flops() * t["epochs"] / 1e9
    seconds = timed(lambda: run(["python", "-m", "stages.train"], folder))
    return {"train_gflops": gflop / seconds, "train_vs_sgemm": gflop / seconds / sgemm_gflops(),
            "train_stage_s": seconds}


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
            losses = batch_losses(model, cache, targets, vocab, rows[:, :K], rows[:, K], T["lambda_contrastive"],
                                  T["temperature"])
            optimizer.zero_grad()
            losses["total"].backward()
            optimizer.step()

    epoch(False)  # warm-up
    return {"cached_vs_inloop": timed(lambda: epoch(True)) / timed(lambda: epoch(False))}


def real_shaped_training(n_ids=10_000, length=130, n_frames=512, steps=5):
    """One training step (losses, backward, AdamW) on real-shaped batches: 130-token captions over
    a 10,000-id training vocabulary (Zipf-distributed, as words are), K=4 input frames, the default
    batch size, for the default decoder (model.text_decoder, model.max_vocab_size) vs the seed's GRU
    over every training id. Seconds per step are the median of `steps`, after a warm-up, the two
    models stepping in turn, so that a change of load on a shared machine hits both alike (timed
    one model after the other, the ratio ranged 0.33-0.45 in three runs)."""
    generator = torch.Generator().manual_seed(0)
    zipf = 1 / torch.arange(1, n_ids + 1, dtype=torch.float64)
    token_ids = (torch.multinomial(zipf, n_frames * length, replacement=True, generator=generator) + 1000)
    token_ids = token_ids.view(n_frames, length).int()
    token_ids[:, 0], token_ids[:, -1] = 101, 102
    cache = {"image_features": torch.randn(n_frames, 1280, generator=generator),
             "text_features": torch.randn(n_frames, 384, generator=generator), "token_ids": token_ids,
             "target_images": torch.randint(0, 256, (n_frames, 3, E["target_size"], E["target_size"]),
                                            dtype=torch.uint8, generator=generator)}
    windows = torch.randint(0, n_frames, (steps + 1, T["batch_size"], K + 1), generator=generator)

    def trainer(text_decoder, vocab_size):
        vocab = Vocabulary.from_tokens(token_ids, 0, 101, 102, 100, size=vocab_size)
        model = StoryModel(ModelConfig.from_params({**DEFAULTS.model, "text_decoder": text_decoder}, image_dim=1280,
                                                   text_dim=384, vocab_size=len(vocab), target_size=E["target_size"],
                                                   k=K, max_tokens=length))
        optimizer, targets = torch.optim.AdamW(model.parameters(), lr=T["lr"]), Targets(cache, vocab, "cpu")

        def step(rows):
            losses = batch_losses(model, cache, targets, vocab, rows[:, :K], rows[:, K], T["lambda_contrastive"],
                                  T["temperature"])
            optimizer.zero_grad()
            losses["total"].backward()
            optimizer.step()
        return step, len(vocab)

    default, vocab_size = trainer(DEFAULTS.model["text_decoder"], DEFAULTS.model["max_vocab_size"])
    seed, seed_vocab = trainer("gru", None)
    times = timed_in_turn([lambda i: default(windows[i]), lambda i: seed(windows[i])], len(windows))
    default_s, seed_s = (sorted(t[1:])[len(t[1:]) // 2] for t in times)
    return {"real_step_vs_seed_gru": default_s / seed_s, "real_step_default_s": default_s,
            "real_step_seed_gru_s": seed_s, "real_step_default_vocab": vocab_size, "real_step_seed_vocab": seed_vocab}


def noop_vs_trivial(ours, trivial, rounds=7):
    """`dvc repro` with nothing to do, in `ours` over in `trivial`, after a cold run of each: the
    minimum of `rounds` timings of each, taken in turn, so that a change of load on a shared
    machine hits both sides alike (timed one side after the other, the ratio ranged 1.1-1.85)."""
    for folder in (ours, trivial):
        run(["dvc", "repro"], folder)
    ours_s, trivial_s = timed_in_turn([lambda _, f=folder: run(["dvc", "repro"], f) for folder in (ours, trivial)],
                                      rounds)
    return min(ours_s) / min(trivial_s)


def rerun_overhead(folder, stages=("train", "evaluate", "plot")):
    """The cold `dvc repro` of the defaults (repro_default_s); the train stage's FLOP rate; and
    `dvc repro` after a lambda change vs the same stages' commands run directly on the same
    change (`python -m stages.<name>`, process start included): dvc's own cost on a rerun."""
    cold = timed(lambda: run(["dvc", "repro"], folder))
    flops = train_flops(folder)
    update_params(folder, {"train": {"lambda_contrastive": 0.25}})
    direct = sum(timed(lambda s=s: run(["python", "-m", f"stages.{s}"], folder)) for s in stages)
    start = time.perf_counter()
    ran = ran_stages(run(["dvc", "repro"], folder).stdout)
    rerun = time.perf_counter() - start
    assert ran == set(stages), f"a lambda change reran {sorted(ran)}"
    return {"rerun_overhead": rerun / direct, "rerun_dvc_s": rerun, "rerun_direct_s": direct, "repro_default_s": cold,
            **flops}


def seed_sd_bleu(folder, seeds=5):
    """The standard deviation of test BLEU over `seeds` training seeds at default params, through
    storyseq.compare: one `dvc exp run` per seed."""
    run(["dvc", "repro"], folder)
    commit(folder, "baseline")
    for seed in range(seeds):
        run(["dvc", "exp", "run", "-S", f"train.seed={seed}"], folder)
    return {"seed_sd_bleu": compare.seed_sd_bleu(str(folder))}


def image_decoder_cost(folder, rounds=2):
    """The train stage's wall time (process start included) with the frames image decoder vs the
    context decoder, on the same project, timed in turn; the fastest of `rounds` each."""
    run(["dvc", "repro", "embed"], folder)

    def train_with(decoder):
        def call(_):
            update_params(folder, {"model": {"image_decoder": decoder}})
            run(["python", "-m", "stages.train"], folder)
        return call

    frames_s, context_s = (min(t) for t in timed_in_turn([train_with("frames"), train_with("context")], rounds))
    return {"train_frames_vs_context": frames_s / context_s, "train_frames_s": frames_s, "train_context_s": context_s}


def trivial_project(folder):
    """A git + dvc repository holding a two-stage pipeline."""
    folder = Path(folder)
    (folder / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
                                     "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n")
    run(["git", "init", "-q"], folder)
    run(["dvc", "init", "-q"], folder)
    return folder


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


def in_project(measure, changes):
    """measure(a fresh project with params `changes`), in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        return measure(make_project(folder, changes))


def encoders():
    runtime = resolve_runtime(E["runtime"], torch.device("cpu"), "embed.runtime")
    image_encoder = image_encoder_for(E["image_encoder"], runtime, "cpu", E["image_size"])
    images, texts = frames(N_FRAMES)
    return {**embed_vs_limit(image_encoder, images), **encoder_speed(images),
            **cached_vs_inloop(image_encoder, load_text_encoder(E["text_encoder"]), images, texts)}


def noop():
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        return {"noop_vs_trivial": noop_vs_trivial(make_project(a, SMALL), trivial_project(b))}


def scaling():
    with tempfile.TemporaryDirectory() as c:
        folder, n = make_project(c, {}), DEFAULTS.data["n_stories"]
        rss_1, t_1 = peak_rss_and_time(folder, n)
        rss_4, t_4 = peak_rss_and_time(folder, 4 * n)
    return {**{f"rss_4x_{s}": rss_4[s] / rss_1[s] for s in rss_1}, "time_4x": t_4 / t_1,
            **{f"peak_rss_mib_4x_{s}": rss_4[s] / 1024 for s in rss_4}}


# Groups of keys, in the order they run; `python bench/run.py noop real_step` runs only those.
GROUPS = {"encoders": encoders, "real_step": real_shaped_training, "noop": noop,
          "rerun": lambda: in_project(rerun_overhead, {}), "seed_sd": lambda: in_project(seed_sd_bleu, {}),
          "image_decoder": lambda: in_project(image_decoder_cost, {}), "scaling": scaling}


def main():
    names = sys.argv[1:] or list(GROUPS)
    if unknown := set(names) - set(GROUPS):
        raise SystemExit(f"bench: unknown group {', '.join(sorted(unknown))}; groups: {', '.join(GROUPS)}")
    torch.manual_seed(0)
    results = {}
    for name in names:
        results.update(GROUPS[name]())
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    if names == list(GROUPS):  # a partial run prints its keys but leaves the full run's file alone
        (ROOT / "bench/results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"{'key':24} value")
    for key, value in results.items():
        print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")


if __name__ == "__main__":
    main()
