"""window: validate stories, parse frames, split by story and cut sliding windows."""
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from storyseq.core import params as P
from storyseq.core.atomic import atomic_path, write_json
from storyseq.core.errors import StageError, run_stage
from storyseq.core.progress import tqdm
from storyseq.data.markup import sections
from storyseq.data.windows import (
    FRAME_SCHEMA,
    SPLITS,
    WINDOW_SCHEMA,
    InvalidStory,
    Summary,
    assign_splits,
    check_images,
    read_batches,
    story_frames,
    window_rows,
)

RAW = "data/raw/stories.parquet"


def skip(summary, story_id, err):
    line = summary.skip(story_id, err)
    if line:
        tqdm.write(line, file=sys.stderr)


def main():
    summary = Summary()
    try:
        cut_windows(summary)
    finally:
        for line in summary.unnamed_skips():
            print(line, file=sys.stderr)


def cut_windows(summary):
    params = P.load("window")
    P.validate(params, ["data.test_split"])
    w = params.window
    seen, texts, source_split, reasoning = set(), {}, {}, {}
    # Pass 1: the text of every story (cheap), so that splits are drawn among valid stories.
    for batch in read_batches(RAW, ["story_id", "story", "frame_count", "split", "chain_of_thought"]):
        for row in batch:
            summary.read += 1
            try:
                texts[row["story_id"]] = story_frames(row["story_id"], row["story"], row["frame_count"], w["k"], seen)
                source_split[row["story_id"]] = row["split"]
                reasoning[row["story_id"]] = sections(row["chain_of_thought"], row["frame_count"])
            except InvalidStory as err:
                skip(summary, row["story_id"], err)
    if not texts:
        raise StageError(f"window: no valid story remains of {summary.read} read ({dict(summary.skipped)})")
    official_test = [sid for sid, split in source_split.items() if split == params.data["test_split"]]
    summary.official_test = bool(official_test)
    split_of = assign_splits(texts, w["val_fraction"], w["test_fraction"], w["seed"], official_test)
    # Pass 2: decode images and write frames and windows, a batch of stories at a time.
    with atomic_path("data/frames.parquet") as frames_tmp, atomic_path("data/windows.parquet") as windows_tmp, \
            pq.ParquetWriter(frames_tmp, FRAME_SCHEMA) as frames_out, \
            pq.ParquetWriter(windows_tmp, WINDOW_SCHEMA) as windows_out:
        done = set()
        for batch in tqdm(read_batches(RAW, ["story_id", "images"]), desc="window", unit="batch"):
            frame_rows, windows = [], []
            for row in batch:
                sid = row["story_id"]
                if sid not in texts or sid in done:
                    continue
                done.add(sid)
                try:
                    check_images(row["images"] or [], len(texts[sid]))
                except InvalidStory as err:
                    skip(summary, sid, err)
                    continue
                split = split_of[sid]
                frame_rows += [{"story_id": sid, "frame": i, "split": split, "text": plain, "tagged_text": tagged,
                                "reasoning": thought, "image": image["bytes"]}
                               for i, ((tagged, plain), thought, image)
                               in enumerate(zip(texts[sid], reasoning[sid], row["images"]), 1)]
                summary.add_names(split, [tagged for tagged, _ in texts[sid]])
                windows += window_rows(sid, split, len(texts[sid]), w["k"], w["stride"])
                summary.stories[split] += 1
                summary.sources[split].add(source_split[sid])
                summary.frames[split] += len(texts[sid])
            for item in windows:
                summary.windows[item["split"]] += 1
            frames_out.write_table(pa.Table.from_pylist(frame_rows, schema=FRAME_SCHEMA))
            windows_out.write_table(pa.Table.from_pylist(windows, schema=WINDOW_SCHEMA))
        empty = [s for s in SPLITS if summary.windows[s] == 0]
        if empty:
            raise StageError(f"window: the {'/'.join(empty)} split has no windows ({summary.stories[empty[0]]} stories); "
                             "raise data.n_stories or window.val_fraction/test_fraction")
    write_json("metrics/data.json", summary.as_dict())
    print(f"window: {summary.as_dict()}")


if __name__ == "__main__":
    run_stage(main)
