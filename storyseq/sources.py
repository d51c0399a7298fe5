"""Story sources for the fetch stage: synthetic, the Hugging Face hub, or local parquet
shards in the hub's layout. Whatever the source, the output is the hub's schema."""
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Image, List, Value

from storyseq import synthetic
from storyseq.errors import StageError
from storyseq.network import hub_reachable

FEATURES = Features({
    "story_id": Value("string"),
    "images": List(Image()),
    "frame_count": Value("int32"),
    "chain_of_thought": Value("string"),
    "story": Value("string"),
})
RAW_FEATURES = FEATURES.copy()
RAW_FEATURES["images"] = List(Image(decode=False))


def _streamed(dataset, n_stories):
    """Take n_stories from a streaming dataset, keeping images as encoded bytes."""
    missing = set(FEATURES) - set(dataset.features or FEATURES)
    if missing:
        raise StageError(f"fetch: the source lacks the field(s) {', '.join(sorted(missing))}")
    return dataset.select_columns(list(FEATURES)).cast(RAW_FEATURES).take(n_stories)


def hub_stories(name, revision, split, n_stories):
    """Stream the first n_stories of the hub dataset, at a pinned revision."""
    if not hub_reachable():
        raise StageError(f"fetch: the Hugging Face hub is unreachable (offline?) for data.hub_name={name}; "
                         "use data.source=parquet with a local copy, or data.source=synthetic")
    import datasets
    return _streamed(datasets.load_dataset(name, split=split, revision=revision, streaming=True), n_stories)


def parquet_stories(path, n_stories):
    """Stream stories from a parquet file or a folder of shards, through the hub's code path."""
    import datasets
    path = Path(path)
    files = sorted(str(p) for p in path.rglob("*.parquet")) if path.is_dir() else [str(path)]
    if not path.exists() or not files:
        raise StageError(f"fetch: data.path={path} holds no parquet file")
    return _streamed(datasets.load_dataset("parquet", data_files=files, split="train", streaming=True), n_stories)


def open_source(params):
    """The stories chosen by data.source, as an iterable of hub-schema dicts."""
    data = params["data"]
    if data["source"] == "synthetic":
        return synthetic.stories(data["n_stories"], data["seed"])
    if data["source"] == "hub":
        return hub_stories(data["hub_name"], data["revision"], data["split"], data["n_stories"])
    return parquet_stories(data["path"], data["n_stories"])


def write_stories(stories, path, batch_size=16):
    """Write hub-schema stories to one parquet file, a batch at a time; return the count."""
    schema = FEATURES.arrow_schema
    count, batch = 0, []
    with pq.ParquetWriter(path, schema) as writer:
        for story in stories:
            batch.append(FEATURES.encode_example(story))
            if len(batch) == batch_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count, batch = count + len(batch), []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return count + len(batch)
