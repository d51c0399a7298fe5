import os
import subprocess
import sys

import pytest
import torch
import yaml

from storyseq.core import params as P
from storyseq.core.errors import StageError
from storyseq.core.runtime import set_precision
from storyseq.fixtures.project import ROOT

BAD = [
    ("data.source", "ftp", "one of synthetic, hub, parquet"),
    ("data.n_stories", -3, "an integer >= 1"),
    ("data.n_stories", "many", "an integer >= 1"),
    ("data.n_test_stories", 0, "an integer >= 1"),
    ("data.test_split", "train", "different from data.split"),
    ("window.k", 0, "an integer >= 1"),
    ("window.k", 2.5, "an integer >= 1"),
    ("window.stride", True, "an integer >= 1"),
    ("window.val_fraction", 1.5, "a number in (0.0, 1.0]"),
    ("embed.image_encoder", "vit", "one of efficientnet_lite0"),
    ("embed.text_encoder", "", "one of all-MiniLM-L6-v2"),
    ("embed.target_size", 48, "one of 16, 32, 64, 128"),
    ("embed.device", "tpu", "one of auto, cpu, cuda"),
    ("embed.precision", "fp16", "one of fp32, tf32, bf16"),
    ("embed.decode_workers", 0, "auto or an integer >= 1"),
    ("embed.batch_size", "many", "auto or an integer >= 1"),
    ("evaluate.device", "gpu", "one of auto, cpu, cuda"),
    ("plot.device", True, "one of auto, cpu, cuda"),
    ("model.dropout", 1.0, "a number in [0.0, 0.9]"),
    ("train.lr", 0, "a number in (0.0, 1.0]"),
    ("train.lambda_contrastive", -0.1, "a number in [0.0, 100.0]"),
    ("train.temperature", 0.0, "a number in (0.0, 10.0]"),
    ("train.checkpoint", "best", "one of last, best_val"),
    ("evaluate.beam_size", 0, "an integer >= 1 and <= 32"),
    ("evaluate.coco", "yes", "true or false"),
    ("evaluate.coco", 1, "true or false"),
    ("plot.n_examples", None, "an integer >= 1"),
]


def load_with(tmp_path, key, value):
    params = yaml.safe_load(open("params.yaml"))
    section, name = key.split(".")
    params[section][name] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return P.load(*params, path=tmp_path / "params.yaml")


def test_the_committed_params_are_valid():
    params = P.load("data", "window", "embed", "model", "train", "evaluate", "plot")
    assert params.window["k"] == 4 and params.train["lambda_contrastive"] == 0.5


@pytest.mark.parametrize("key, value, expect", BAD)
def test_bad_values_name_the_key(tmp_path, key, value, expect):
    with pytest.raises(StageError) as err:
        load_with(tmp_path, key, value)
    assert str(err.value) == f"params.yaml: {key} must be {expect}, got {value!r}" or \
        str(err.value).startswith(f"params.yaml: {key} must be {expect}")
    assert "\n" not in str(err.value)


def test_a_missing_key_is_named(tmp_path):
    params = yaml.safe_load(open("params.yaml"))
    del params["train"]["epochs"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(StageError, match="missing key train.epochs"):
        P.load("train", path=tmp_path / "params.yaml")


def test_every_key_has_a_comment():
    for line in open("params.yaml"):
        if line.startswith("  ") and ":" in line:
            assert "#" in line, line


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["train", "evaluate", "plot"])
def test_a_stage_run_by_hand_without_its_inputs_says_which(tmp_path, stage):
    (tmp_path / "params.yaml").write_text(open("params.yaml").read())
    result = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1
    assert result.stderr.startswith("error: missing input data/features/") and result.stderr.count("\n") == 1, result.stderr


def test_reduced_precision_is_refused_on_the_cpu():
    with pytest.raises(StageError, match="embed.precision=bf16 applies on CUDA only"):
        set_precision("bf16", torch.device("cpu"), "embed.precision")
