"""fetch: read data.n_stories stories from data.source into data/raw/stories.parquet."""
from storyseq import params as P
from storyseq.atomic import atomic_path
from storyseq.errors import StageError, run_stage
from storyseq.progress import tqdm
from storyseq.sources import open_source, write_stories

OUT = "data/raw/stories.parquet"


def main():
    params = P.load("data")
    stories = tqdm(open_source(params), total=params.data["n_stories"], desc="fetch", unit="story")
    with atomic_path(OUT) as tmp:
        count = write_stories(stories, tmp)
        if count == 0:
            raise StageError(f"fetch: data.source={params.data['source']} gave no stories")
    print(f"fetch: wrote {count} stories to {OUT}")


if __name__ == "__main__":
    run_stage(main)
