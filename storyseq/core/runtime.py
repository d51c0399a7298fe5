"""Device choice, CUDA numerics and determinism."""
import os
import random

import numpy as np
import torch

from storyseq.core.errors import StageError


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


def set_precision(precision, device, key):
    """fp32: full float32 on CUDA (TF32 off), so that GPU features stay within 1e-4 of the CPU's.
    tf32: TF32 matmuls and convolutions (1.6x the encoder's speed on an H200). bf16: bfloat16
    autocast (2.1x). Returns the autocast context the encoders run in."""
    if precision != "fp32" and device.type != "cuda":
        raise StageError(f"{key}={precision} applies on CUDA only; use {key}=fp32 on the CPU")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def seed_everything(seed):
    """Seed python, numpy and torch, and ask torch (and cuBLAS) for deterministic kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
