"""The feature cache that the embed stage writes to data/features/ and that train, evaluate, plot
and predict read: per frame, the frozen encoders' features, the target image (uint8, target size)
and the target caption's token ids; and decode_images, which makes a frame's encoder input and
target image from its bytes."""
import io
import json
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

FEATURES_FILE, META_FILE = "features.pt", "meta.json"


def decode_images(images, image_size, target_size):
    """Encoded frames -> (encoder input (B, 3, S, S), targets (B, 3, T, T)), both uint8.
    torchvision's antialiased bilinear resize gives PIL's bilinear bytes within one level (a
    rounding on under 1% of the values) at about twice PIL's speed."""
    big, small = [], []
    for data in images:
        with Image.open(io.BytesIO(data)) as img:
            pixels = TF.pil_to_tensor(img.convert("RGB"))
        big.append(TF.resize(pixels, [image_size, image_size], antialias=True))
        small.append(TF.resize(pixels, [target_size, target_size], antialias=True))
    return torch.stack(big), torch.stack(small)


def target_pixels(cache, rows=slice(None)):
    """Target images of the given rows as floats in [0, 1] (the cache stores them as uint8)."""
    return cache["target_images"][rows].float() / 255


def on_device(cache, device):
    """The cache's tensors that the model reads (features, target images, token ids), on `device`."""
    return {k: cache[k].to(device) for k in ("image_features", "text_features", "target_images", "token_ids")}


def save(cache, meta, folder):
    """Write the cache as two files into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(cache, folder / FEATURES_FILE)
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load(folder):
    """(cache, meta) from data/features/."""
    folder = Path(folder)
    return torch.load(folder / FEATURES_FILE, weights_only=True), json.loads((folder / META_FILE).read_text())
