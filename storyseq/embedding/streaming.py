"""The embed stage's work: stream frames through the frozen encoders, once, into the feature
cache (storyseq/embedding/features.py): decode workers, encoder batches and progress bars."""
import collections
import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pyarrow.parquet as pq
import torch

from storyseq.core.progress import tqdm
from storyseq.embedding.features import decode_images

DECODE_CHUNK = 32  # frames per decode task: small enough to keep every worker busy


def usable_cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def one_torch_thread():
    """Run torch's CPU ops on one core in this process (a decode worker)."""
    torch.set_num_threads(1)


def prefetched(fn, items, workers=1):
    """fn(item) for each item, in order, computed in the background while the caller works on
    earlier results; at most 2 * workers results are pending, so memory stays bounded.

    One worker is a thread: no copies between processes. Several are processes, since decode
    threads do not scale past the GIL (docs/benchmark.md). As torch's DataLoader does, they are
    forked (they start at once and never touch CUDA) and run torch on one core, so that they
    don't crowd each other out."""
    if workers == 1:
        pool = ThreadPoolExecutor(1, initializer=one_torch_thread)
    else:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=one_torch_thread)
    with pool:
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def regrouped(chunks, batch_size):
    """(big, small) decoded chunks regrouped into batches of exactly batch_size frames (the last
    may be shorter), so that the encoder sees the same batches whatever the decode chunks."""
    held = []
    for chunk in chunks:
        held.append(chunk)
        if sum(len(small) for _, small in held) >= batch_size:
            big, small = (torch.cat(parts) for parts in zip(*held))
            while len(small) >= batch_size:
                yield big[:batch_size], small[:batch_size]
                big, small = big[batch_size:], small[batch_size:]
            held = [(big, small)] if len(small) else []
    if held:
        yield tuple(torch.cat(parts) for parts in zip(*held))


def decode_workers(workers, device):
    """embed.decode_workers, where auto is one per usable core on CUDA (the GPU waits on decoding)
    and 1 on the CPU, where the encoder already keeps every core busy (docs/benchmark.md)."""
    return workers if workers != "auto" else usable_cores() if device.type == "cuda" else 1


def encoder_batch_size(batch_size, device):
    """embed.batch_size, where auto is 32 frames on the CPU and 256 on CUDA (smaller batches
    leave the GPU waiting on kernel launches)."""
    return batch_size if batch_size != "auto" else 256 if device.type == "cuda" else 32


def embed_images(frames_path, encoder, image_size, target_size, batch_size, device, workers, precision):
    """The image path: decode and resize chunks of frames on `workers` workers (see prefetched),
    encode them on `device` in batches of batch_size.
    Returns (features (N, D) float32, target images (N, 3, T, T) uint8), both on the CPU.
    On CUDA the batches travel from pinned memory and the features stay on the GPU until the
    end, so the GPU never waits on a host copy or sync."""
    parquet = pq.ParquetFile(frames_path)
    n, cuda = parquet.metadata.num_rows, device.type == "cuda"
    features = torch.empty(n, encoder.dim, device=device)
    targets = torch.empty(n, 3, target_size, target_size, dtype=torch.uint8)
    decode = functools.partial(decode_images, image_size=image_size, target_size=target_size)
    chunks = (b.column("image").to_pylist() for b in parquet.iter_batches(batch_size=DECODE_CHUNK, columns=["image"]))
    start = 0
    with torch.inference_mode(), precision, tqdm(total=n, desc="embed", unit="img") as bar:
        for big, small in regrouped(prefetched(decode, chunks, workers), batch_size):
            end = start + len(small)
            features[start:end] = encoder((big.pin_memory() if cuda else big).to(device, non_blocking=True)).float()
            targets[start:end] = small
            bar.update(end - start)
            start = end
    return features.cpu(), targets


def embed_texts(texts, encoder, max_tokens, batch_size, device, precision, progress=True):
    """The text path: (features (N, D) float32 on the CPU, target token ids (N, max_tokens) int32),
    with a progress bar unless `progress` is False."""
    tokenizer = encoder.tokenizer
    features = torch.empty(len(texts), encoder.dim, device=device)
    token_ids = torch.full((len(texts), max_tokens), tokenizer.pad_token_id, dtype=torch.int32)
    with torch.inference_mode(), precision:
        for start in tqdm(range(0, len(texts), batch_size), desc="embed text", unit="batch", disable=not progress):
            batch = texts[start:start + batch_size]
            features[start:start + len(batch)] = encoder(batch, device).float()
            ids = tokenizer(batch, truncation=True, max_length=max_tokens)["input_ids"]
            for i, seq in enumerate(ids, start):
                token_ids[i, :len(seq)] = torch.tensor(seq, dtype=torch.int32)
    return features.cpu(), token_ids


def embed_frames(frames_path, image_encoder, text_encoder, e, device, precision):
    """Encode every frame of frames.parquet with the encoders, already on `device`, with the
    embed params `e`; return the feature cache as a dict of tensors."""
    columns = pq.read_table(frames_path, columns=["story_id", "frame", "text"]).to_pydict()
    workers = decode_workers(e["decode_workers"], device)
    batch_size = encoder_batch_size(e["batch_size"], device)
    image_features, target_images = embed_images(frames_path, image_encoder, e["image_size"], e["target_size"],
                                                 batch_size, device, workers, precision)
    text_features, token_ids = embed_texts(columns["text"], text_encoder, e["max_tokens"], batch_size, device,
                                           precision)
    return {"image_features": image_features, "text_features": text_features, "target_images": target_images,
            "token_ids": token_ids, "story_ids": columns["story_id"],
            "frames": torch.tensor(columns["frame"], dtype=torch.int32), "texts": columns["text"]}


def clipping(texts, tokenizer, max_tokens):
    """How many texts tokenise (special tokens included) to more than max_tokens: metrics/embed.json."""
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    n_clipped = sum(length > max_tokens for length in lengths)
    return {"frames": len(lengths), "max_tokens": max_tokens, "clipped_frames": n_clipped,
            "clipped_fraction": round(n_clipped / max(len(lengths), 1), 6), "longest_tokens": max(lengths, default=0)}
