"""storyseq.compare on hand-made per-window files: mean ± sd over seeds, corpus BLEU from summed
counts, and the hierarchical bootstrap of the paired difference."""
import math

import numpy as np
import pytest

from storyseq import compare
from storyseq.evaluation.scoring import read_window_lines, window_lines

STORIES = ["s1", "s1", "s2", "s2"]
PERFECT = [4, 3, 2, 1, 4, 3, 2, 1, 4, 4]  # every n-gram matches, same length: BLEU 1


def run(lam, seed, rouge, bleu=None, f1=math.nan):
    """A run of 4 windows (2 stories) written and read back through evaluate's per-window format."""
    n = len(STORIES)
    stats = {"bleu": np.array(bleu or [PERFECT] * n, dtype=float), "rouge_l": np.array(rouge, dtype=float),
             "meteor": np.array(rouge, dtype=float), "image_mse": np.full(n, 0.01), "character_f1": np.full(n, f1)}
    story_ids, frames, stats = read_window_lines(list(window_lines(STORIES, range(5, 5 + n), stats)))
    assert story_ids == STORIES and frames == [5, 6, 7, 8]
    return {"name": f"exp-{lam}-{seed}", "seed": seed, "params": {"train.lambda_contrastive": lam, "train.epochs": 30},
            "story_ids": story_ids, "stats": stats}


def test_groups_ignore_the_seed_and_keep_one_run_per_seed():
    runs = [run(0.5, 0, [0.5] * 4), run(0, 0, [0.1] * 4), run(0.5, 1, [0.7] * 4), run(0.5, 1, [0.9] * 4)]
    grouped = compare.groups(runs)
    assert list(grouped) == ["train.lambda_contrastive=0", "train.lambda_contrastive=0.5"]
    assert [r["seed"] for r in grouped["train.lambda_contrastive=0.5"]] == [0, 1]  # the second seed 1 is dropped


def test_mean_sd_over_seeds_and_the_seed_interval_by_hand():
    # every window of a run scores the same, so only the seeds vary: group means 0.3 and 0.7, sd 0.1414
    a = [run(0, 0, [0.2] * 4), run(0, 1, [0.4] * 4)]
    b = [run(0.5, 0, [0.6] * 4), run(0.5, 1, [0.8] * 4)]
    grouped = compare.groups(a + b)
    table = compare.seed_table(grouped)
    rouge = compare.SCORES.index("rouge_l")
    n, means, sds = table["train.lambda_contrastive=0"]
    assert n == 2 and means[rouge] == pytest.approx(0.3) and sds[rouge] == pytest.approx(math.sqrt(0.02))
    assert table["train.lambda_contrastive=0.5"][1][rouge] == pytest.approx(0.7)
    assert math.isnan(means[compare.SCORES.index("character_f1")])  # no window names a character
    # drawn means: 0.2/0.3/0.4 and 0.6/0.7/0.8 with chances 1/4, 1/2, 1/4: the difference is 0.2
    # (or 0.6) with chance 1/16 > 2.5%, so the 95% interval is exactly (0.2, 0.6) around 0.4
    [diffs] = compare.paired_differences(grouped, "train.lambda_contrastive=0").values()
    assert diffs[rouge] == pytest.approx((0.4, 0.2, 0.6))


def test_story_resampling_is_paired():
    # stories differ a lot (0.1 vs 0.9) but the model is 0.05 better on every window: paired, the
    # interval is exactly 0.05; resampling the two groups' stories apart would spread it over +-0.8
    grouped = compare.groups([run(0, 0, [0.1, 0.1, 0.9, 0.9]), run(0.5, 0, [0.15, 0.15, 0.95, 0.95])])
    [diffs] = compare.paired_differences(grouped, "train.lambda_contrastive=0", n_resamples=200).values()
    assert diffs[compare.SCORES.index("rouge_l")] == pytest.approx((0.05, 0.05, 0.05))


def test_bleu_is_corpus_bleu_of_the_summed_counts():
    half = [2, 1, 0, 0, 4, 3, 2, 1, 4, 4]  # summed with PERFECT: precisions 6/8, 4/6, 2/4, 1/2, no brevity penalty
    runs = [run(0, 0, [0.5] * 4, bleu=[half, PERFECT, half, PERFECT])]
    _, means, _ = compare.seed_table(compare.groups(runs))["all"]
    assert means[compare.SCORES.index("bleu")] == pytest.approx((0.75 * 4 / 6 * 0.5 * 0.5) ** 0.25)


def test_report_is_markdown_and_refuses_other_test_windows():
    a, b = run(0, 0, [0.2] * 4), run(0.5, 0, [0.6] * 4)
    text = compare.report(compare.groups([a, b]), n_resamples=50)
    assert "| train.lambda_contrastive=0.5 minus train.lambda_contrastive=0 | +0.000 (0.000 to 0.000) | +0.400 (0.400 to 0.400) |" in text
    b["story_ids"] = ["s1", "s1", "s2", "s3"]
    with pytest.raises(ValueError, match="exp-0.5-0 was scored on other test windows"):
        compare.report(compare.groups([a, b]), n_resamples=50)


def test_the_reference_is_found_by_value():
    # dvc's exp_show gives 0.0 for a lambda queued as 0: the reference the user types still finds it
    grouped = compare.groups([run(0.0, 0, [0.2] * 4), run(0.5, 0, [0.6] * 4)])
    assert compare.find_group(grouped, "train.lambda_contrastive=0") == "train.lambda_contrastive=0.0"
    assert "minus train.lambda_contrastive=0.5" in compare.report(grouped, "train.lambda_contrastive=.5", n_resamples=20)
    with pytest.raises(ValueError, match="no group 'train.lambda_contrastive=0.2'; groups: train.lambda_contrastive=0.0; "):
        compare.find_group(grouped, "train.lambda_contrastive=0.2")


def test_experiments_leave_out_queued_running_and_failed_runs(tmp_path, monkeypatch, capsys):
    """A queued or running experiment shows its baseline's metrics in `dvc exp show`: counted, it
    would be a copy of the commit's run posing as another seed."""
    import dvc.api

    (tmp_path / "params.yaml").write_text("train:\n  seed: 0\n  lambda_contrastive: 0.5\n")
    lines = "\n".join(window_lines(STORIES, range(5, 9), run(0.5, 0, [0.5] * 4)["stats"]))
    rows = [{"rev": "workspace", "Experiment": None, "State": None},
            {"rev": "abc", "Experiment": None, "State": None, "train.seed": 0, "train.lambda_contrastive": 0.5}]
    rows += [{"rev": state, "Experiment": state, "State": state, "train.seed": 1, "train.lambda_contrastive": 0.5}
             for state in ("Success", "Queued", "Running", "Failed")]
    monkeypatch.setattr(dvc.api, "exp_show", lambda repo, revs=None: rows)
    monkeypatch.setattr(dvc.api, "read", lambda path, repo, rev: lines)
    assert [r["name"] for r in compare.experiments(str(tmp_path))] == ["abc", "Success"]
    assert "left out 3 experiments" in capsys.readouterr().out


def test_a_boolean_param_from_exp_show_is_a_boolean(tmp_path, monkeypatch):
    """`dvc exp show` gives a boolean param as the string 'False'; experiments() reads it back as
    False, so that --reference model.image_inputs=false finds its group."""
    import dvc.api

    (tmp_path / "params.yaml").write_text("train:\n  seed: 0\nmodel:\n  image_inputs: true\n")
    lines = "\n".join(window_lines(STORIES, range(5, 9), run(0.5, 0, [0.5] * 4)["stats"]))
    rows = [{"rev": "abc", "Experiment": None, "State": None, "train.seed": 0, "model.image_inputs": "False"}]
    monkeypatch.setattr(dvc.api, "exp_show", lambda repo, revs=None: rows)
    monkeypatch.setattr(dvc.api, "read", lambda path, repo, rev: lines)
    runs = compare.experiments(str(tmp_path))
    assert runs[0]["params"] == {"model.image_inputs": False}
    grouped = compare.groups(runs)
    assert compare.find_group(grouped, "model.image_inputs=false") == next(iter(grouped))
