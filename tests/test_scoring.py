import math
import random

import numpy as np
import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

from storyseq.data import markup, synthetic
from storyseq.data.grounding import character_f1, characters, names, window_characters
from storyseq.embedding.encoders import load_tokenizer
from storyseq.evaluation.baselines import constant_caption
from storyseq.evaluation.bootstrap import paired_interval, story_weights
from storyseq.evaluation.scoring import image_stats, normalise, rouge_l, summarise, text_stats, words


def text_scores(references, hypotheses):
    return summarise(text_stats(references, hypotheses))


def test_identical_texts_score_one_and_different_texts_score_low():
    refs = ["the red circle hops over a puddle at the left.", "the blue square waves at the sky in the middle."]
    perfect = text_scores(refs, refs)
    assert perfect["bleu"] == pytest.approx(1.0) and perfect["rouge_l"] == pytest.approx(1.0)
    assert perfect["meteor"] > 0.99
    wrong = text_scores(refs, ["a dog sleeps.", "nothing happens here today."])
    assert wrong["bleu"] < 0.1 and wrong["rouge_l"] < 0.3 and wrong["meteor"] < 0.3


def test_bleu_from_per_window_counts_is_nltks_corpus_bleu():
    texts = [plain.lower() for s in synthetic.stories(20, 0) for _, plain in markup.frame_texts(s["story"], s["frame_count"])]
    rng = random.Random(0)
    refs = texts[:60]
    hyps = [rng.choice(texts) for _ in refs[:-2]] + ["", "the"]
    expected = corpus_bleu([[words(r)] for r in refs], [words(h) for h in hyps], smoothing_function=SmoothingFunction().method1)
    assert text_scores(refs, hyps)["bleu"] == pytest.approx(expected, rel=1e-12)
    # window weights count a window several times, as a bootstrap resample does
    twice = text_scores(refs + refs[:5], hyps + hyps[:5])["bleu"]
    assert summarise(text_stats(refs, hyps), weights=[2] * 5 + [1] * 55)["bleu"] == pytest.approx(twice, rel=1e-12)


def test_meteor_uses_wordnet_synonyms():
    close = text_scores(["the red circle jumps"], ["the red circle leaps"])["meteor"]
    far = text_scores(["the red circle jumps"], ["the red circle sleeps"])["meteor"]
    assert close > far


def test_normalisation_is_the_tokenizer_round_trip():
    tokenizer = load_tokenizer("all-MiniLM-L6-v2")
    assert normalise("The  Red Circle, at the LEFT.", tokenizer) == "the red circle, at the left."


def test_image_scores():
    a = torch.zeros(2, 3, 4, 4)
    scores = summarise(image_stats(a, a + 0.1))
    assert scores["image_mse"] == pytest.approx(0.01)
    assert scores["image_psnr"] == pytest.approx(20.0)


FRAMES = [
    "<gdo char1>Anna</gdo> <gda char1>opens</gda> the door. <gdo char1>She</gdo> smiles.",
    "<gdo char2>Dr. Hale</gdo> <gda char2>stands</gdo> by <gdl bg1 bg2>the walls</gdl>.",
    "<gdo char1 char2>They</gdo> <gda char1 char2>talk</gda> about <gdo obj1>the letter</gdo>.",
]


def test_character_ids_names_and_f1_by_hand():
    assert characters(FRAMES[2]) == {"char1", "char2"}  # a grouped tag counts each id; obj1 is no character
    assert characters("<gda char4>stands</gdo> near <gdo char7>him</gdo>") == {"char4", "char7"}
    assert names(FRAMES) == {"char1": {"anna"}, "char2": {"dr . hale"}}  # pronouns and grouped tags name no one
    per_window = [(names(FRAMES[:2]), {"char1", "char2"}),   # both named in the inputs
                  (names(FRAMES[:1]), {"char1", "char3"}),   # char3 first seen in frame K+1: unnamable
                  (names(FRAMES[:2]), set())]                # no character: not scored
    captions = ["anna waves to dr. hale.", "annabel and anna leave.", "anna sleeps."]
    f1 = character_f1(captions, per_window)
    assert f1[0] == 1.0 and f1[1] == pytest.approx(2 * 1 / (1 + 2)) and math.isnan(f1[2])
    assert character_f1(["annabel sleeps.", "nobody."], per_window[:2]).tolist() == [0.0, 0.0]  # whole words only
    assert summarise({"character_f1": f1})["character_f1"] == pytest.approx((1 + 2 / 3) / 2)


def test_window_characters_use_the_input_frames_only():
    windows = {"inputs": torch.tensor([[0, 1]]), "target": torch.tensor([2])}
    ((names_of, reference),) = window_characters(FRAMES, windows)
    assert names_of == {"char1": {"anna"}, "char2": {"dr . hale"}} and reference == {"char1", "char2"}
    ((names_of, _),) = window_characters(FRAMES, {"inputs": torch.tensor([[2, 0]]), "target": torch.tensor([1])},
                                         normalise=str.upper)
    assert names_of == {"char1": {"anna"}}


def test_bootstrap_resamples_stories_and_pairs_the_systems():
    story_ids = ["a", "a", "a", "b", "c", "c"]
    weights = story_weights(story_ids, 500, seed=0)
    assert weights.shape == (500, 6)
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 4] == weights[:, 5]).all()
    draws = weights[:, [0, 3, 4]]  # one window per story: the story counts of each resample
    assert (draws.sum(1) == 3).all() and (story_weights(story_ids, 500, seed=0) == weights).all()
    # a constant gap of 0.1 on every window: the interval is the gap itself
    model = {"rouge_l": np.array([0.5, 0.6, 0.7, 0.8, 0.2, 0.3])}
    base = {"rouge_l": model["rouge_l"] - 0.1}
    interval = paired_interval(model, base, weights)["rouge_l"]
    assert interval["difference"] == pytest.approx(0.1) and interval["low"] == pytest.approx(0.1)
    assert interval["high"] == pytest.approx(0.1)
    # the model wins on story a only: the interval covers both signs and all-a / no-a extremes bound it
    base = {"rouge_l": model["rouge_l"] + np.array([-0.3, -0.3, -0.3, 0.3, 0.3, 0.3])}
    interval = paired_interval(model, base, weights)["rouge_l"]
    assert interval["difference"] == pytest.approx(0.0)
    assert -0.3 <= interval["low"] < 0 < interval["high"] <= 0.3


def test_constant_caption_is_the_most_typical_training_caption():
    captions = ["the tension grows in the room."] * 6 + ["a dog runs on the beach.", "rain falls on the city at night.",
                                                          "the tension in the room grows slowly."]
    assert constant_caption(captions, rouge_l, n_candidates=9, n_references=9) == "the tension grows in the room."
    assert constant_caption(["only one."], rouge_l) == "only one."
