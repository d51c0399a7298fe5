import pytest
import torch

from storyseq.encoders import load_tokenizer
from storyseq.scoring import image_scores, normalise, text_scores


def test_identical_texts_score_one_and_different_texts_score_low():
    refs = ["the red circle hops over a puddle at the left.", "the blue square waves at the sky in the middle."]
    perfect = text_scores(refs, refs)
    assert perfect["bleu"] == pytest.approx(1.0) and perfect["rouge_l"] == pytest.approx(1.0)
    assert perfect["meteor"] > 0.99
    wrong = text_scores(refs, ["a dog sleeps.", "nothing happens here today."])
    assert wrong["bleu"] < 0.1 and wrong["rouge_l"] < 0.3 and wrong["meteor"] < 0.3


def test_meteor_uses_wordnet_synonyms():
    close = text_scores(["the red circle jumps"], ["the red circle leaps"])["meteor"]
    far = text_scores(["the red circle jumps"], ["the red circle sleeps"])["meteor"]
    assert close > far


def test_normalisation_is_the_tokenizer_round_trip():
    tokenizer = load_tokenizer("all-MiniLM-L6-v2")
    assert normalise("The  Red Circle, at the LEFT.", tokenizer) == "the red circle, at the left."


def test_image_scores():
    a = torch.zeros(2, 3, 4, 4)
    assert image_scores(a, a + 0.1)["image_mse"] == pytest.approx(0.01)
    assert image_scores(a, a + 0.1)["image_psnr"] == pytest.approx(20.0)
