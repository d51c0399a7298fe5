"""The real bundled encoders, offline."""
import torch

from storyseq import synthetic
from storyseq.encoders import load_image_encoder, load_text_encoder
from storyseq.features import load_pixels, to_batch


def test_minilm_puts_captions_about_the_same_thing_close():
    encoder = load_text_encoder("all-MiniLM-L6-v2")
    captions = ["A red ball bounces on the left of the meadow.", "The red circle hops at the left of the field.",
                "Quarterly earnings beat analyst expectations."]
    with torch.inference_mode():
        first, second = encoder(captions), encoder(captions)
    assert torch.equal(first, second)
    similarity = first @ first.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
    assert first.shape == (3, 384)


def test_efficientnet_features_are_deterministic_and_discriminative():
    """The same shape at the same place on two backgrounds is closer than two shapes on one."""
    encoder = load_image_encoder("efficientnet_lite0")
    circle = {"colour": "red", "shape": "circle", "row": 0}
    square = {"colour": "blue", "shape": "square", "row": 1}
    frames = [synthetic._render("city street", [square], [3]), synthetic._render("meadow", [square], [3]),
              synthetic._render("meadow", [circle], [1])]
    pixels = to_batch([load_pixels(synthetic._encode_png(f), 160, 16)[0] for f in frames], "cpu")
    with torch.inference_mode():
        features = encoder(pixels)
        assert torch.equal(features, encoder(pixels))
    cos = torch.nn.functional.cosine_similarity
    assert features.shape == (3, 1280)
    assert cos(features[1], features[0], dim=0) > cos(features[1], features[2], dim=0) + 0.1
