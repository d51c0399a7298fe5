"""fetch: read stories from data.source into data/raw/stories.parquet, and where they came
from into metrics/fetch.json."""
from storyseq.core import params as P
from storyseq.core.atomic import atomic_path, write_json
from storyseq.core.errors import StageError, run_stage
from storyseq.core.progress import tqdm
from storyseq.data.sources import open_source, write_stories

OUT = "data/raw/stories.parquet"


def main():
    params = P.load("data")
    d = params.data
    stories, provenance = open_source(params)
    total = d["n_stories"] + (d["n_test_stories"] if provenance["test_split_found"] else 0)
    with atomic_path(OUT) as tmp:
        counts = write_stories(tqdm(stories, total=total, desc="fetch", unit="story"), tmp)
        if not counts:
            raise StageError(f"fetch: data.source={d['source']} gave no stories")
    write_json("metrics/fetch.json", {**provenance, "stories": counts})
    print(f"fetch: wrote {sum(counts.values())} stories to {OUT} ({counts})")


if __name__ == "__main__":
    run_stage(main)
