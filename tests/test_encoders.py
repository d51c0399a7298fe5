"""The real bundled encoders, offline, and the decoding in front of them."""
import functools
import io

import pytest
import torch
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from storyseq.core.errors import StageError
from storyseq.core.runtime import resolve_runtime
from storyseq.data import synthetic
from storyseq.embedding.encoders import OnnxImageEncoder, load_image_encoder, load_text_encoder
from storyseq.embedding.features import decode_images
from storyseq.embedding.streaming import prefetched, regrouped


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
    circle = {"colour": "red", "shape": "circle", "row": 0, "column": 1}
    square = {"colour": "blue", "shape": "square", "row": 1, "column": 3}
    frames = [synthetic.render({"palette": palette, "light": 0, "cast": [shape]})
              for palette, shape in ((2, square), (0, square), (0, circle))]
    pixels = decode_images([synthetic.encode_png(f) for f in frames], 160, 16)[0]
    with torch.inference_mode():
        features = encoder(pixels)
        assert torch.equal(features, encoder(pixels))
    cos = torch.nn.functional.cosine_similarity
    assert features.shape == (3, 1280)
    assert cos(features[1], features[0], dim=0) > cos(features[1], features[2], dim=0) + 0.1


def test_onnxruntime_gives_torch_features_deterministically():
    encoder = load_image_encoder("efficientnet_lite0")
    onnx = OnnxImageEncoder(encoder, 160)
    pixels = decode_images([image["bytes"] for image in next(synthetic.stories(1, seed=3))["images"]], 160, 16)[0]
    with torch.inference_mode():
        expected = encoder(pixels)
    features = onnx(pixels)
    assert torch.equal(features, onnx(pixels))
    assert features.shape == expected.shape
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-4)


def test_runtime_auto_is_onnxruntime_on_the_cpu_and_torch_on_cuda():
    assert resolve_runtime("auto", torch.device("cpu"), "embed.runtime") == "onnxruntime"
    assert resolve_runtime("auto", torch.device("cuda"), "embed.runtime") == "torch"
    with pytest.raises(StageError, match="embed.runtime=onnxruntime runs on the CPU only"):
        resolve_runtime("onnxruntime", torch.device("cuda"), "embed.runtime")


def test_decoding_resizes_as_pil_bilinear_within_one_level():
    images = [image["bytes"] for image in next(synthetic.stories(1, seed=4))["images"]]
    big, small = decode_images(images, 160, 32)
    for data, b, s in zip(images, big, small):
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB")
            for ours, size in ((b, 160), (s, 32)):
                difference = (ours.int() - pil_to_tensor(img.resize((size, size), Image.BILINEAR)).int()).abs()
                assert difference.max() <= 1 and (difference > 0).float().mean() < 0.01


def test_decode_workers_and_batches_do_not_change_the_bytes():
    images = [image["bytes"] for story in synthetic.stories(3, seed=5) for image in story["images"]]
    decode = functools.partial(decode_images, image_size=32, target_size=16)
    chunks = [images[i:i + 7] for i in range(0, len(images), 7)]
    expected = decode(images)
    for workers in (1, 3):
        batches = list(regrouped(prefetched(decode, chunks, workers), 10))
        assert [len(small) for _, small in batches] == [10] * (len(images) // 10) + [len(images) % 10] * (len(images) % 10 > 0)
        for got, want in zip(zip(*batches), expected):
            assert torch.equal(torch.cat(got), want)
