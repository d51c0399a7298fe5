"""The whole pipeline through the real dvc CLI, on small params in a throwaway git repo."""
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from storyseq.evaluation.scoring import read_window_lines, summarise
from storyseq.fixtures.project import commit, ran_stages, run, update_params

pytestmark = pytest.mark.slow  # end-to-end dvc runs: `make test-fast` skips them

SYSTEMS = ("model", "copy_last", "nearest_neighbor", "constant", "oracle")  # oracle: synthetic data only
SCORES = ("bleu", "rouge_l", "meteor", "character_f1", "image_mse", "image_psnr", "image_mae", "image_ssim", "placement")


def repro(folder):
    return ran_stages(run(["dvc", "repro"], folder).stdout)


def md5(folder, path):
    return run(["md5sum", path], folder).stdout.split()[0]


def test_rerun_semantics_and_diffs(small_project, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(small_project, folder, symlinks=True)  # a copy of a project after one full repro
    assert repro(folder) == set(), "a second repro must run nothing"
    assert "up to date" in run(["dvc", "status"], folder).stdout
    commit(folder, "baseline")

    # the COCO scorer goes off with the first change: its ten seconds per evaluate test nothing here
    update_params(folder, {"train": {"lambda_contrastive": 0.2}, "evaluate": {"coco": False}})
    assert repro(folder) == {"train", "evaluate", "plot"}
    update_params(folder, {"evaluate": {"beam_size": 2}})
    assert repro(folder) == {"evaluate", "plot"}

    params_diff = run(["dvc", "params", "diff", "HEAD"], folder).stdout
    assert "train.lambda_contrastive" in params_diff and "evaluate.beam_size" in params_diff
    metrics_diff = run(["dvc", "metrics", "diff", "HEAD"], folder).stdout
    assert "metrics/scores.json" in metrics_diff and "Change" in metrics_diff
    assert "intervals" not in metrics_diff and "baselines" not in metrics_diff
    commit(folder, "experiment")

    frames_before = md5(folder, "data/frames.parquet")
    update_params(folder, {"window": {"k": 5}})
    ran = repro(folder)
    assert "fetch" not in ran
    assert {"window", "train", "evaluate", "plot"} <= ran
    # embed reruns exactly when its input, the frames, changed (dvc compares content)
    assert ("embed" in ran) == (md5(folder, "data/frames.parquet") != frames_before)


def test_metrics_are_on_the_test_split(small_project):
    scores = json.loads((small_project / "metrics/scores.json").read_text())
    baselines = json.loads((small_project / "metrics/baselines.json").read_text())
    windows = pq.read_table(small_project / "data/windows.parquet").to_pylist()
    test_stories = {w["story_id"] for w in windows if w["split"] == "test"}
    n_test = sum(w["split"] == "test" for w in windows)
    assert json.loads((small_project / "metrics/data.json").read_text())["windows"]["test"] == n_test
    shares = scores.pop("share_copy_last_to_oracle")
    assert set(scores) == set(SCORES) and set(baselines) == set(SYSTEMS[1:])
    assert shares["bleu"] is None or shares["bleu"] == pytest.approx(
        (scores["bleu"] - baselines["copy_last"]["bleu"]) / (baselines["oracle"]["bleu"] - baselines["copy_last"]["bleu"]),
        abs=1e-3)
    for system in SYSTEMS[1:]:
        assert set(baselines[system]) == set(SCORES)
    intervals = json.loads((small_project / "metrics/intervals.json").read_text())
    assert set(intervals["model_minus_constant"]) == set(SCORES) and set(intervals["scores"]) == set(SYSTEMS)
    for system in SYSTEMS:
        for score, (low, high) in ((k, (v["low"], v["high"])) for k, v in intervals["scores"][system].items()):
            value = (scores if system == "model" else baselines[system])[score]
            assert low <= high and (low <= value <= high or score == "bleu"), (system, score)
    report = json.loads((small_project / "metrics/coco.json").read_text())
    assert report["n_test_windows"] == report["n_scored_windows"] == n_test
    for system in SYSTEMS:
        assert set(report[system]) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider_d"}
    assert set(report["intervals"]["model_minus_constant"]) == {"rouge_l", "cider_d"}
    predictions = [json.loads(line) for line in (small_project / "plots/predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == n_test
    assert {p["story_id"] for p in predictions} == test_stories
    for p in predictions:
        assert {"story_id", "target_frame", "reference", *SYSTEMS} <= set(p)
    story_ids, frames, stats = read_window_lines((small_project / "plots/window_scores.jsonl").read_text().splitlines())
    assert list(zip(story_ids, frames)) == [(p["story_id"], p["target_frame"]) for p in predictions]
    assert np.isfinite(stats["character_f1"]).all()  # every synthetic frame names a shape
    assert {k: round(v, 6) for k, v in summarise(stats).items()} == scores  # the per-window file gives the scores


def test_plots_and_outputs_exist(small_project):
    for name in ("story_strips", "similarity", "dataset", "norms", "losses", "windows/window_1", "windows/window_2"):
        assert (small_project / f"plots/{name}.png").read_bytes()[:4] == b"\x89PNG"
    text_loss = (small_project / "dvclive/plots/metrics/val/text.tsv").read_text().splitlines()
    assert text_loss[0] == "step\ttext" and len(text_loss) == 1 + 2  # one step per epoch, no timestamps
    summary = json.loads((small_project / "dvclive/metrics.json").read_text())
    assert summary["step"] == 2 and 1 <= summary["selected"]["epoch"] <= 2


def test_same_params_give_the_same_bytes(small_project):
    """Two full runs on the same machine: every out in dvc.lock has the same md5."""
    lock = (small_project / "dvc.lock").read_text()
    run(["dvc", "repro", "--force"], small_project)
    assert (small_project / "dvc.lock").read_text() == lock
