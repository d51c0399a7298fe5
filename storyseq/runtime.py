"""Device choice and determinism."""
import random

import numpy as np
import torch

from storyseq.errors import StageError


def resolve_device(name, key):
    """`auto` -> cuda when present, else cpu; `cuda` without a GPU is an error naming `key`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StageError(f"{key}=cuda, but no CUDA device is available; use {key}=auto or cpu")
    return torch.device(name)


def resolve_runtime(name, device, key):
    """`auto` -> ONNX Runtime on the CPU, torch on CUDA; onnxruntime with CUDA is an error naming `key`."""
    if name == "auto":
        return "onnxruntime" if device.type == "cpu" else "torch"
    if name == "onnxruntime" and device.type != "cpu":
        raise StageError(f"{key}=onnxruntime runs on the CPU only; use {key}=auto or torch with a GPU")
    return name


def seed_everything(seed):
    """Seed python, numpy and torch, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
