"""What every bench group shares: the default params it measures at, and timers that take turns,
so that a change of load on a shared machine hits both sides of a ratio alike."""
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from storyseq.core import params as P  # noqa: E402
from storyseq.embedding.streaming import encoder_batch_size  # noqa: E402

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


def sgemm_gflops(n=2048):
    """This CPU's float32 matrix-multiply rate: the practical ceiling of a dense model."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    return 10 * 2 * n ** 3 / timed(lambda: [a @ b for _ in range(10)]) / 1e9
