"""The embed stage's work: stream frames through the frozen encoders, once, into a small
cache of features, target images and target token ids."""
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from storyseq.progress import tqdm

FEATURES_FILE, META_FILE = "features.pt", "meta.json"


def decode_images(images, image_size, target_size):
    """Encoded frames -> (encoder input (B, 3, S, S), targets (B, 3, T, T)), both uint8.
    torchvision's antialiased bilinear resize gives PIL's bytes at about twice PIL's speed."""
    big, small = [], []
    for data in images:
        with Image.open(io.BytesIO(data)) as img:
            pixels = TF.pil_to_tensor(img.convert("RGB"))
        big.append(TF.resize(pixels, [image_size, image_size], antialias=True))
        small.append(TF.resize(pixels, [target_size, target_size], antialias=True))
    return torch.stack(big), torch.stack(small)


def prefetched(fn, items):
    """fn(item) for each item in order, the next one computed in a background thread while
    the caller works on this one. Only one result is held ahead, so memory stays bounded."""
    with ThreadPoolExecutor(1) as pool:
        pending = None
        for item in items:
            future = pool.submit(fn, item)
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def embed_frames(frames_path, image_encoder, text_encoder, image_size, target_size, max_tokens, batch_size, device):
    """Encode every frame of frames.parquet with the encoders, already on `device`; return the
    feature cache as a dict of tensors."""
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

    def decode(batch):
        rows = batch.to_pydict()
        return rows, *decode_images(rows["image"], image_size, target_size)

    batches = parquet.iter_batches(batch_size=batch_size, columns=["story_id", "frame", "text", "image"])
    start = 0
    with torch.inference_mode(), tqdm(total=n, desc="embed", unit="img") as bar:
        for rows, big, small in prefetched(decode, batches):
            end = start + len(rows["text"])
            cache["image_features"][start:end] = image_encoder(big.to(device)).float().cpu()
            cache["text_features"][start:end] = text_encoder(rows["text"], device).float().cpu()
            cache["target_images"][start:end] = small
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
