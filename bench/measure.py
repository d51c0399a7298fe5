"""What every bench group shares: the default params it measures at, one training step of the
model, and timers that take turns, so that a change of load on a shared machine hits both sides
of a ratio alike."""
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from storyseq.core import params as P  # noqa: E402
from storyseq.model.training import batch_losses  # noqa: E402

K = 4
DEFAULTS = P.load("data", "embed", "model", "train", path=ROOT / "params.yaml")
E, T = DEFAULTS.embed, DEFAULTS.train


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


def train_step(model, optimizer, cache, targets, vocab, windows):
    """One optimiser step on (B, K + 1) windows of rows into `cache`, with the default train params."""
    losses = batch_losses(model, cache, targets, vocab, windows[:, :K], windows[:, K], T["lambda_contrastive"],
                          T["temperature"], T["image_weight"])
    optimizer.zero_grad()
    losses["total"].backward()
    optimizer.step()


def sgemm_gflops(n=2048):
    """This CPU's float32 matrix-multiply rate: the practical ceiling of a dense model."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    return 10 * 2 * n ** 3 / timed(lambda: [a @ b for _ in range(10)]) / 1e9
