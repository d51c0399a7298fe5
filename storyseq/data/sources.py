"""Story sources for the fetch stage: synthetic, the Hugging Face hub, or local parquet
shards in the hub's layout. Whatever the source, the output is the hub's schema plus one
column, `split`: the source split each story was read from."""
from itertools import chain
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Image, List, Value

from storyseq.core.errors import StageError
from storyseq.data import synthetic
from storyseq.data.network import hub_reachable

FEATURES = Features({
    "story_id": Value("string"),
    "images": List(Image()),
    "frame_count": Value("int32"),
    "chain_of_thought": Value("string"),
    "story": Value("string"),
})
RAW_FEATURES = FEATURES.copy()
RAW_FEATURES["images"] = List(Image(decode=False))
RAW_SCHEMA = FEATURES.arrow_schema.append(pa.field("split", pa.string()))
SYNTHETIC_SPLIT = "synthetic"  # the split name of synthetic stories: one pool, cut by story in the window stage


def _streamed(dataset, n_stories, split):
    """Take n_stories from a streaming dataset, keeping images as encoded bytes, tagged with `split`."""
    missing = set(FEATURES) - set(dataset.features or FEATURES)
    if missing:
        raise StageError(f"fetch: the source lacks the field(s) {', '.join(sorted(missing))}")
    for story in dataset.select_columns(list(FEATURES)).cast(RAW_FEATURES).take(n_stories):
        yield {**story, "split": split}


def _builder(data):
    """The datasets builder of the hub repository or the local parquet file/folder. A folder in
    the hub's layout (data/train-*.parquet, data/test-*.parquet) gets its splits by file name,
    by datasets' own data-files resolution, as on the hub; any other folder or file is one split, train."""
    import datasets
    if data["source"] == "hub":
        if not hub_reachable():
            raise StageError(f"fetch: the Hugging Face hub is unreachable (offline?) for data.hub_name={data['hub_name']}; "
                             "use data.source=parquet with a local copy, or data.source=synthetic")
        return datasets.load_dataset_builder(data["hub_name"], revision=data["revision"])
    path = Path(data["path"])
    if not (path.is_file() or path.is_dir() and any(path.rglob("*.parquet"))):
        raise StageError(f"fetch: data.path={path} holds no parquet file")
    if path.is_dir():
        return datasets.load_dataset_builder(str(path))
    return datasets.load_dataset_builder("parquet", data_files=str(path))


def hub_commit(name, revision):
    """The commit that data.revision resolves to on the hub, so that `main` stays traceable."""
    from huggingface_hub import HfApi
    return HfApi().dataset_info(name, revision=revision).sha


def open_source(params):
    """(stories, provenance): the stories chosen by data.*, as hub-schema dicts with their source
    `split`, and what metrics/fetch.json records of the source. Hub and parquet sources give
    data.n_stories of data.split, then data.n_test_stories of data.test_split when the source has it."""
    data = params["data"]
    if data["source"] == "synthetic":
        stories = ({**story, "split": SYNTHETIC_SPLIT} for story in synthetic.stories(data["n_stories"], data["seed"]))
        return stories, {"source": "synthetic", "seed": data["seed"], "test_split_found": False}
    builder = _builder(data)
    splits = [str(split) for split in builder.config.data_files]
    if data["split"] not in splits:
        raise StageError(f"fetch: data.split={data['split']} is not a split of the source (it has {', '.join(splits)})")
    reads = [(data["split"], data["n_stories"])]
    if data["test_split"] in splits:
        reads.append((data["test_split"], data["n_test_stories"]))
    stories = chain.from_iterable(_streamed(builder.as_streaming_dataset(split=split), n, split) for split, n in reads)
    provenance = {"source": data["source"], "test_split_found": len(reads) == 2}
    if data["source"] == "hub":
        provenance.update(hub_name=data["hub_name"], revision=data["revision"],
                          commit=hub_commit(data["hub_name"], data["revision"]))
    else:
        provenance.update(path=str(data["path"]))
    return stories, provenance


def write_stories(stories, path, batch_size=16):
    """Write stories (hub schema plus `split`) to one parquet file, a batch at a time; return
    the number of stories written per split."""
    counts, batch = {}, []
    with pq.ParquetWriter(path, RAW_SCHEMA) as writer:
        for story in stories:
            batch.append({**FEATURES.encode_example({k: story[k] for k in FEATURES}), "split": story["split"]})
            counts[story["split"]] = counts.get(story["split"], 0) + 1
            if len(batch) == batch_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=RAW_SCHEMA))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=RAW_SCHEMA))
    return counts
