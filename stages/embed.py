"""embed: run the frozen image and text encoders once over every frame, and cache the features."""
import sys

import torch

from storyseq.core import params as P
from storyseq.core.atomic import atomic_path, write_json
from storyseq.core.errors import run_stage
from storyseq.core.runtime import resolve_device, resolve_runtime, seed_everything, set_precision
from storyseq.embedding import features, streaming
from storyseq.embedding.encoders import image_encoder_for, load_text_encoder


def main():
    e = P.load("embed").embed
    device = resolve_device(e["device"], "embed.device")
    seed_everything(0)
    precision = set_precision(e["precision"], device, "embed.precision")
    runtime = resolve_runtime(e["runtime"], device, "embed.runtime")
    image_encoder = image_encoder_for(e["image_encoder"], runtime, device, e["image_size"])
    text_encoder = load_text_encoder(e["text_encoder"])
    text_encoder.model.to(device)
    cache = streaming.embed_frames("data/frames.parquet", image_encoder, text_encoder, e, device, precision)
    tokenizer = text_encoder.tokenizer
    meta = {
        "image_encoder": image_encoder.name, "runtime": runtime, "image_dim": image_encoder.dim,
        "text_encoder": text_encoder.name, "text_dim": text_encoder.dim, "device": device.type,
        "precision": e["precision"],
        "image_size": e["image_size"], "target_size": e["target_size"], "max_tokens": e["max_tokens"],
        "tokenizer": text_encoder.name if text_encoder.name != "test_tiny_bert" else "all-MiniLM-L6-v2",
        "pad_id": tokenizer.pad_token_id, "bos_id": tokenizer.cls_token_id, "eos_id": tokenizer.sep_token_id,
        "unk_id": tokenizer.unk_token_id, "n_frames": len(cache["story_ids"]), "torch": torch.__version__,
    }
    clipping = streaming.clipping(cache["texts"], tokenizer, e["max_tokens"])
    meta["clipped_fraction"] = clipping["clipped_fraction"]
    if clipping["clipped_fraction"] > 0.01:
        print(f"warning: {clipping['clipped_fraction']:.1%} of frame texts are longer than embed.max_tokens="
              f"{e['max_tokens']} tokens (longest {clipping['longest_tokens']}) and are clipped", file=sys.stderr)
    with atomic_path("data/features") as tmp:
        features.save(cache, meta, tmp)
    write_json("metrics/embed.json", clipping)
    print(f"embed: {meta['n_frames']} frames -> data/features ({image_encoder.name}, {text_encoder.name}, "
          f"{device.type})")


if __name__ == "__main__":
    run_stage(main)
