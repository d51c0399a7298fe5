"""The embed stage's work: stream frames through the frozen encoders, once, into a small
cache of features, target images and target token ids."""
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image
from tqdm import tqdm

FEATURES_FILE, META_FILE = "features.pt", "meta.json"


def load_pixels(image_bytes, image_size, target_size):
    """Decode one frame; return (encoder input, target) as uint8 HWC arrays."""
    with Image.open(io.BytesIO(image_bytes)) as img:
        img = img.convert("RGB")
        big = img.resize((image_size, image_size), Image.BILINEAR)
        small = img.resize((target_size, target_size), Image.BILINEAR)
    return np.asarray(big), np.asarray(small)


def to_batch(arrays, device):
    """uint8 HWC arrays -> float (B, 3, H, W) in [0, 1], channels_last."""
    pixels = torch.from_numpy(np.stack(arrays)).to(device).permute(0, 3, 1, 2)
    return pixels.float().div_(255).contiguous(memory_format=torch.channels_last)


def embed_frames(frames_path, image_encoder, text_encoder, image_size, target_size, max_tokens, batch_size, device):
    """Encode every frame of frames.parquet; return the feature cache as a dict of tensors."""
    parquet = pq.ParquetFile(frames_path)
    n = parquet.metadata.num_rows
    tokenizer = text_encoder.tokenizer
    cache = {
        "image_features": torch.empty(n, image_encoder.dim),
        "text_features": torch.empty(n, text_encoder.dim),
        "target_images": torch.empty(n, 3, target_size, target_size, dtype=torch.uint8),
        "token_ids": torch.full((n, max_tokens), tokenizer.pad_token_id, dtype=torch.int32),
        "story_ids": [], "frames": [], "texts": [],
    }
    image_encoder.net.to(device, memory_format=torch.channels_last)
    text_encoder.model.to(device)
    start = 0
    with torch.inference_mode(), tqdm(total=n, desc="embed", unit="img") as bar:
        for batch in parquet.iter_batches(batch_size=batch_size, columns=["story_id", "frame", "text", "image"]):
            rows = batch.to_pydict()
            end = start + len(rows["text"])
            big, small = zip(*(load_pixels(b, image_size, target_size) for b in rows["image"]))
            cache["image_features"][start:end] = image_encoder(to_batch(big, device)).float().cpu()
            cache["text_features"][start:end] = text_encoder(rows["text"], device).float().cpu()
            cache["target_images"][start:end] = torch.from_numpy(np.stack(small)).permute(0, 3, 1, 2)
            ids = tokenizer(rows["text"], truncation=True, max_length=max_tokens)["input_ids"]
            for i, seq in enumerate(ids, start):
                cache["token_ids"][i, :len(seq)] = torch.tensor(seq, dtype=torch.int32)
            cache["story_ids"] += rows["story_id"]
            cache["frames"] += rows["frame"]
            cache["texts"] += rows["text"]
            bar.update(end - start)
            start = end
    cache["frames"] = torch.tensor(cache["frames"], dtype=torch.int32)
    return cache


def target_pixels(cache, rows=slice(None)):
    """Target images of the given rows as floats in [0, 1] (the cache stores them as uint8)."""
    return cache["target_images"][rows].float() / 255


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
