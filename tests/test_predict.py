"""python -m storyseq.predict: the evaluate stage's caption and image for a window of a
default-run story, a story of a hub-layout folder, and one-line errors for bad input."""
import ast
import json
import sys

import numpy as np
import pytest
from hub_layout import write_hub_folder
from PIL import Image

from storyseq.core import params as P
from storyseq.embedding import features
from storyseq.embedding.encoders import load_tokenizer
from storyseq.evaluation import decoding
from storyseq.evaluation.decoding import predict
from storyseq.fixtures.project import ROOT, run
from storyseq.model.dataset import Vocabulary, load_windows
from storyseq.model.story_model import load_checkpoint

PREDICT = [sys.executable, "-m", "storyseq.predict"]


def evaluate_outputs(project):
    """(test windows, the model's images and captions for them, decoded as one batch or one window
    at a time), from the project's feature cache and model, as evaluate makes them."""
    cache, _ = features.load(project / "data/features")
    windows = load_windows(project / "data/windows.parquet", cache)["test"]
    model, checkpoint = load_checkpoint(project / "models/model.pt")
    vocab, tokenizer = Vocabulary(checkpoint["vocab"]), load_tokenizer(checkpoint["tokenizer"])
    ev = P.load("evaluate", path=project / "params.yaml").evaluate
    settings = (vocab, tokenizer, decoding.Generation.from_params(ev))
    batch = predict(model, cache, windows, *settings)
    single = [predict(model, cache, {"inputs": row[None]}, *settings) for row in windows["inputs"]]
    return cache, windows, batch, single


def test_a_windows_caption_does_not_depend_on_the_other_windows_of_its_batch(small_project):
    _, _, (_, batch), single = evaluate_outputs(small_project)
    assert batch == [captions[0] for _, captions in single]


def test_predict_gives_evaluates_caption_and_image(small_project, tmp_path):
    cache, windows, (images, _), _ = evaluate_outputs(small_project)
    predictions = [json.loads(line) for line in (small_project / "plots/predictions.jsonl").read_text().splitlines()]
    i = 2  # the third test window: frames 3..6 of the first test story
    row = windows["inputs"][i]
    frames = cache["frames"][row].tolist()
    assert (predictions[i]["story_id"], predictions[i]["target_frame"]) == (windows["story_ids"][i], frames[-1] + 1)
    out = tmp_path / "prediction.png"
    result = run(PREDICT + ["--story", predictions[i]["story_id"], "--frames", *map(str, frames), "--out", str(out)],
                 small_project)
    assert result.stdout == predictions[i]["model"] + "\n"
    with Image.open(out) as png:
        assert png.size == (256, 256)
        pixels = np.asarray(png.resize((16, 16), Image.NEAREST)).astype(int)
    expected = (images[i] * 255).round().byte().permute(1, 2, 0).numpy().astype(int)
    assert np.abs(pixels - expected).max() <= 1


def test_predict_reads_a_hub_layout_folder(small_project, tmp_path):
    ids = write_hub_folder(tmp_path / "hub", n_train=4, n_test=2)
    out = tmp_path / "prediction.png"
    story = ids["train"][1]  # in the second train shard
    result = run(PREDICT + ["--story", story, "--frames", "2", "3", "4", "5", "--source", str(tmp_path / "hub"),
                            "--out", str(out)], small_project)
    caption = result.stdout.strip()
    assert caption and "\n" not in caption
    assert f"story {story!r}" in result.stderr
    with Image.open(out) as png:
        assert png.size == (256, 256) and png.mode == "RGB"


@pytest.mark.parametrize("args, message", [
    (["--story", "no-such-story"], "story 'no-such-story': not in --source data/raw/stories.parquet"),
    (["--frames", "1", "2", "3"], "--frames: the model takes k=4 frame numbers, got 3"),
    (["--frames", "1", "2", "3", "99"], "story 'synthetic-0-00000': frame 99 is not in 1..17"),
    (["--model", "models/none.pt"], "--model models/none.pt: no such file"),
    (["--source", "data/none.parquet"], "--source data/none.parquet: no such file or folder"),
])
def test_bad_input_gets_a_one_line_error_and_no_png(small_project, tmp_path, args, message):
    defaults = {"--story": ["synthetic-0-00000"], "--frames": ["1", "2", "3", "4"]}
    for flag, value in defaults.items():
        if flag not in args:
            args = args + [flag, *value]
    out = tmp_path / "prediction.png"
    result = run(PREDICT + args + ["--out", str(out)], small_project, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_predicts_default_decoding_is_the_committed_evaluate_params():
    """predict reads no params.yaml: its flags' defaults are the evaluate params as committed."""
    committed = P.load("evaluate", path=ROOT / "params.yaml").evaluate
    assert decoding.Generation() == decoding.Generation.from_params(committed)
    calls = [n.func for n in ast.walk(ast.parse((ROOT / "storyseq/predict.py").read_text())) if isinstance(n, ast.Call)]
    assert not [f for f in calls if isinstance(f, ast.Attribute) and f.attr == "load" and getattr(f.value, "id", "") == "P"]
