"""Use the trained model on one story: predict the caption and image of the frame after K
given frames, with the encoders of the embed stage and the decoding of the evaluate stage.

    python -m storyseq.predict --story ID --frames 3 4 5 6 [--source data/raw/stories.parquet] [--out FILE.png]

It reads no params.yaml: the model and its encoders come from the checkpoint and
data/features/meta.json, the decoding from the flags (by default the committed evaluate params).

The source is any file or folder of stories in the hub's schema: data/raw/stories.parquet (the
fetch stage's output), a parquet file, or a folder in the hub's layout (data/train-*.parquet)."""
import argparse
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import torch
from PIL import Image

from storyseq.core import params as P
from storyseq.core.atomic import atomic_path
from storyseq.core.errors import StageError, run_stage
from storyseq.core.runtime import resolve_device, seed_everything, set_precision
from storyseq.data import markup
from storyseq.embedding import features, streaming
from storyseq.embedding.encoders import image_encoder_for, load_text_encoder, load_tokenizer
from storyseq.evaluation.decoding import Generation, predict
from storyseq.model.dataset import Vocabulary
from storyseq.model.story_model import load_checkpoint

META = Path("data/features") / features.META_FILE
COLUMNS = ["story_id", "story", "images"]
PNG_SIZE = 256  # side of the written PNG: the target_size prediction, upscaled with square pixels


def read_story(source, story_id):
    """(story text, encoded images) of `story_id`, from a parquet file or a folder of them."""
    source = Path(source)
    if not source.exists():
        raise StageError(f"--source {source}: no such file or folder")
    files = [source] if source.is_file() else sorted(source.rglob("*.parquet"))
    if not files:
        raise StageError(f"--source {source}: the folder holds no parquet file")
    for file in files:
        missing = set(COLUMNS) - set(pq.read_schema(file).names)
        if missing:
            raise StageError(f"--source {file}: not in the hub's schema (no field {', '.join(sorted(missing))})")
        rows = pq.read_table(file, columns=COLUMNS, filters=[("story_id", "==", story_id)]).to_pylist()
        if rows:
            return rows[0]["story"], [image["bytes"] for image in rows[0]["images"]]
    raise StageError(f"story {story_id!r}: not in --source {source}")


def encoder_settings(config, tokenizer):
    """The embed stage's settings (data/features/meta.json), checked against the checkpoint's."""
    if not META.exists():
        raise StageError(f"{META} is missing: predict needs the embed stage's encoders; run `dvc repro embed`")
    meta = json.loads(META.read_text())
    if (meta["image_dim"], meta["text_dim"], meta["target_size"], meta["tokenizer"]) != \
            (config["image_dim"], config["text_dim"], config["target_size"], tokenizer):
        raise StageError(f"{META} does not match --model (other encoders or target_size): run `dvc repro`")
    return meta


def window_features(images, texts, meta, device):
    """The feature cache of the K input frames, made as the embed stage makes it."""
    precision = set_precision(meta["precision"] if device.type == "cuda" else "fp32", device, "--device")
    runtime = meta["runtime"] if device.type == "cpu" else "torch"
    image_encoder = image_encoder_for(meta["image_encoder"], runtime, device, meta["image_size"])
    text_encoder = load_text_encoder(meta["text_encoder"])
    text_encoder.model.to(device)
    pixels, targets = features.decode_images(images, meta["image_size"], meta["target_size"])
    with torch.inference_mode(), precision:
        image_features = image_encoder(pixels.to(device)).float()
    text_features, token_ids = streaming.embed_texts(texts, text_encoder, meta["max_tokens"], len(texts), device,
                                                    precision, progress=False)
    cache = {"image_features": image_features, "text_features": text_features, "target_images": targets,
             "token_ids": token_ids}
    return features.on_device(cache, device)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m storyseq.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("--story", required=True, help="story_id of the story")
    parser.add_argument("--frames", required=True, type=int, nargs="+", help="K input frame numbers (1-based)")
    parser.add_argument("--source", default="data/raw/stories.parquet", help="parquet file or hub-layout folder")
    parser.add_argument("--model", default="models/model.pt", help="checkpoint written by the train stage")
    parser.add_argument("--out", help="PNG of the predicted image (default: predictions/STORY-FRAME.png)")
    parser.add_argument("--device", default="auto", choices=P.DEVICES, help="where the encoders and model run")
    defaults = Generation()
    parser.add_argument("--beam-size", type=int, default=defaults.beam_size, help="1: greedy; more: beam search")
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens, help="longest caption")
    parser.add_argument("--no-repeat-ngram", type=int, default=defaults.no_repeat_ngram,
                        help="never repeat a run of this many tokens (0: no rule)")
    parser.add_argument("--stop", default=defaults.stop, choices=("median", "argmax"), help="where a caption ends")
    args = parser.parse_args(argv)
    generation = Generation(args.max_new_tokens, args.beam_size, args.no_repeat_ngram, args.stop)
    out = args.out or f"predictions/{args.story}-{args.frames[-1] + 1}.png"
    device = resolve_device(args.device, "--device")
    seed_everything(0)
    if not Path(args.model).is_file():
        raise StageError(f"--model {args.model}: no such file; run `dvc repro` to train it")
    model, checkpoint = load_checkpoint(args.model)
    k = checkpoint["config"]["k"]
    meta = encoder_settings(checkpoint["config"], checkpoint["tokenizer"])
    story, images = read_story(args.source, args.story)
    try:
        texts = [plain for _, plain in markup.frame_texts(story, len(images))]
    except ValueError as err:
        raise StageError(f"story {args.story!r}: {err}")
    if len(args.frames) != k:
        raise StageError(f"--frames: the model takes k={k} frame numbers, got {len(args.frames)}")
    outside = [f for f in args.frames if not 1 <= f <= len(images)]
    if outside:
        raise StageError(f"story {args.story!r}: frame {outside[0]} is not in 1..{len(images)}")
    cache = window_features([images[f - 1] for f in args.frames], [texts[f - 1] for f in args.frames], meta, device)
    vocab, tokenizer = Vocabulary(checkpoint["vocab"]), load_tokenizer(checkpoint["tokenizer"])
    predicted, captions = predict(model.to(device), cache, {"inputs": torch.arange(k).unsqueeze(0)}, vocab, tokenizer,
                                  generation)
    pixels = (predicted[0] * 255).round().byte().permute(1, 2, 0).numpy()
    with atomic_path(out) as tmp:
        Image.fromarray(pixels).resize((PNG_SIZE, PNG_SIZE), Image.NEAREST).save(tmp, format="PNG")
    print(captions[0])
    print(f"predict: frame after {args.frames[-1]} of story {args.story!r} -> {out}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
