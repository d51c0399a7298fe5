"""Small data for the GPU check and the GPU benchmark, built with only what a stock CUDA
PyTorch image has: synthetic stories as frames.parquet and windows.parquet, real-size JPEG
frames, and a tiny text encoder with a WordPiece tokenizer built from the captions."""
import io
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image, ImageFilter

from storyseq import markup, synthetic
from storyseq.encoders import TextEncoder
from storyseq.windows import FRAME_SCHEMA, WINDOW_SCHEMA, assign_splits, window_rows


def real_size_jpeg(png, rng):
    """A synthetic frame as the real data stores it: a JPEG 240 px high, 426 to 575 px wide,
    with film-like grain so that it decodes like a photograph, not a flat drawing."""
    with Image.open(io.BytesIO(png)) as img:
        img = img.convert("RGB").resize((rng.randint(426, 575), 240), Image.BILINEAR)
    grain = Image.effect_noise(img.size, 24).filter(ImageFilter.GaussianBlur(1)).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(img, grain, 0.15).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_frames(folder, n_stories, k=4, jpeg=False, seed=2):
    """frames.parquet and windows.parquet of n_stories synthetic stories in `folder`, split
    by story as the window stage does; returns the frame texts."""
    stories, rng = list(synthetic.stories(n_stories, seed)), random.Random(seed)
    split_of = assign_splits([s["story_id"] for s in stories], 0.2, 0.2, seed)
    frames, windows = [], []
    for story in stories:
        sid, split = story["story_id"], split_of[story["story_id"]]
        texts = markup.frame_texts(story["story"], story["frame_count"])
        frames += [{"story_id": sid, "frame": i, "split": split, "text": plain, "tagged_text": tagged,
                    "image": real_size_jpeg(image["bytes"], rng) if jpeg else image["bytes"]}
                   for i, ((tagged, plain), image) in enumerate(zip(texts, story["images"]), 1)]
        windows += window_rows(sid, split, len(texts), k, 1)
    pq.write_table(pa.Table.from_pylist(frames, schema=FRAME_SCHEMA), folder / "frames.parquet")
    pq.write_table(pa.Table.from_pylist(windows, schema=WINDOW_SCHEMA), folder / "windows.parquet")
    return [f["text"] for f in frames]


def tiny_text_encoder(texts, folder):
    """A one-layer random BERT whose WordPiece vocabulary is the words of `texts`: it needs
    no download and no bundled MiniLM package."""
    from transformers import BertConfig, BertModel, BertTokenizerFast
    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(tokens) + "\n")
    # transformers 4 reads vocab_file, transformers 5 reads vocab
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), vocab={t: i for i, t in enumerate(tokens)},
                                  do_lower_case=True)
    assert tokenizer.unk_token_id not in tokenizer(texts[0])["input_ids"], "the tiny tokenizer lost its vocabulary"
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64)
    return TextEncoder("test_gpu_bert", BertModel(config), tokenizer)
