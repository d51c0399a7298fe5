"""The `real_step` group and the train stage's FLOP rate: what a training step costs."""
import torch
from measure import DEFAULTS, E, K, T, sgemm_gflops, timed, timed_in_turn, train_step
from torch.utils.flop_counter import FlopCounterMode

from storyseq.core import params as P
from storyseq.embedding import features
from storyseq.fixtures.project import run
from storyseq.model.dataset import Vocabulary, load_windows
from storyseq.model.story_model import ModelConfig, StoryModel
from storyseq.model.training import Targets, batch_losses, build


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
                            t["lambda_contrastive"], t["temperature"], t["image_weight"])["total"]

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

        return lambda rows: train_step(model, optimizer, cache, targets, vocab, rows), len(vocab)

    default, vocab_size = trainer(DEFAULTS.model["text_decoder"], DEFAULTS.model["max_vocab_size"])
    seed, seed_vocab = trainer("gru", None)
    times = timed_in_turn([lambda i: default(windows[i]), lambda i: seed(windows[i])], len(windows))
    default_s, seed_s = (sorted(t[1:])[len(t[1:]) // 2] for t in times)
    return {"real_step_vs_seed_gru": default_s / seed_s, "real_step_default_s": default_s,
            "real_step_seed_gru_s": seed_s, "real_step_default_vocab": vocab_size, "real_step_seed_vocab": seed_vocab}
