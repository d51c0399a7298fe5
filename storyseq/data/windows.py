"""Story validation, per-frame rows, story-level splits and sliding windows."""
import io
import random
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from storyseq.data import markup
from storyseq.data.markup import NAME_TAG, plain_text

SPLITS = ("train", "val", "test")
SKIP_EXAMPLES = 3  # skipped stories named in the log per reason; the rest are counted
FRAME_SCHEMA = pa.schema([
    ("story_id", pa.string()), ("frame", pa.int32()), ("split", pa.string()),
    ("text", pa.string()), ("tagged_text", pa.string()), ("reasoning", pa.string()), ("image", pa.binary()),
])
WINDOW_SCHEMA = pa.schema([
    ("story_id", pa.string()), ("split", pa.string()),
    ("inputs", pa.list_(pa.int32())), ("target", pa.int32()),
])


class InvalidStory(ValueError):
    """A story the window stage skips; `reason` is the summary key."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason


def story_frames(story_id, story_bytes, n_images, k, seen):
    """Validate one story's text; return its [(tagged, plain)] frames or raise InvalidStory."""
    if story_id in seen:
        raise InvalidStory("duplicate_story_id", "story_id already seen")
    seen.add(story_id)
    try:
        story = story_bytes.decode("utf-8") if story_bytes is not None else ""
    except UnicodeDecodeError as err:
        raise InvalidStory("invalid_text", f"story text is not valid UTF-8 ({err.reason} at byte {err.start})")
    if not story.strip():
        raise InvalidStory("invalid_text", "story text is empty")
    try:
        frames = markup.frame_texts(story, n_images)
    except ValueError as err:
        reason = "segment_count_mismatch" if "segments for" in str(err) else "missing_or_empty_segment"
        raise InvalidStory(reason, str(err))
    if n_images < k + 1:
        raise InvalidStory("too_short", f"{n_images} frames, fewer than window.k+1={k + 1}")
    return frames


def check_images(images, n_segments):
    """Check the image count against the segments, and decode every image; raise InvalidStory."""
    if len(images) != n_segments:
        raise InvalidStory("segment_count_mismatch", f"{n_segments} <gdi> segments for {len(images)} images")
    for number, image in enumerate(images, 1):
        try:
            with Image.open(io.BytesIO(image["bytes"])) as img:
                img.load()
        except Exception as err:  # PIL raises many types for corrupt data
            raise InvalidStory("undecodable_image", f"image {number} does not decode ({type(err).__name__})")


def assign_splits(story_ids, val_fraction, test_fraction, seed, official_test=()):
    """Cut stories into train/val/test by story. The stories of `official_test` (the source's
    test split) form the test split and the others are shuffled with seed and cut into train
    and val; without official test stories, test is cut from the shuffled stories too."""
    official_test = set(official_test)
    ids = sorted(set(story_ids) - official_test)
    random.Random(seed).shuffle(ids)
    n_test = 0 if official_test else max(1, round(len(ids) * test_fraction))
    n_val = max(1, round(len(ids) * val_fraction))
    split = {sid: ("test" if i < n_test else "val" if i < n_test + n_val else "train") for i, sid in enumerate(ids)}
    return {**split, **dict.fromkeys(official_test, "test")}


def window_rows(story_id, split, n_frames, k, stride):
    """Sliding windows of k input frames and the next frame as target (1-based frames)."""
    return [{"story_id": story_id, "split": split, "inputs": list(range(start, start + k)), "target": start + k}
            for start in range(1, n_frames - k + 1, stride)]


def read_batches(path, columns, batch_size=32):
    """Yield the raw stories as lists of dicts, a batch at a time, with `story` as bytes."""
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
        if "story" in columns:
            batch = batch.set_column(batch.schema.get_field_index("story"), "story",
                                     batch.column("story").cast(pa.binary()))
        yield batch.to_pylist()


class Summary:
    """Counts for metrics/data.json, and the source split each of our splits came from."""

    def __init__(self):
        self.read, self.skipped, self.official_test = 0, Counter(), False
        self.frames, self.windows, self.stories = Counter(), Counter(), Counter()
        self.sources = {s: set() for s in SPLITS}
        self.names = {s: set() for s in SPLITS}

    def skip(self, story_id, err):
        """Count a skipped story; return its log line, or None past SKIP_EXAMPLES of its reason."""
        self.skipped[err.reason] += 1
        if self.skipped[err.reason] <= SKIP_EXAMPLES:
            return f"skip story {story_id!r}: {err}"

    def unnamed_skips(self):
        """One log line per reason for the skipped stories that skip() did not name."""
        return [f"... and {n - SKIP_EXAMPLES} more stories skipped: {reason}"
                for reason, n in sorted(self.skipped.items()) if n > SKIP_EXAMPLES]

    def add_names(self, split, tagged_frames):
        """Note the character names that a story of `split` tags (<gdo charN>name</gdo>)."""
        self.names[split] |= {plain_text(name).lower() for tagged in tagged_frames for _, name in NAME_TAG.findall(tagged)}

    def unseen_test_names(self):
        """The share of the test stories' character names that no train story uses."""
        test = self.names["test"]
        return round(len(test - self.names["train"]) / len(test), 4) if test else None

    def as_dict(self):
        return {
            "stories_read": self.read,
            "stories_kept": sum(self.stories.values()),
            "skipped": dict(sorted(self.skipped.items())),
            "stories": {s: self.stories[s] for s in SPLITS},
            "frames": {s: self.frames[s] for s in SPLITS},
            "windows": {s: self.windows[s] for s in SPLITS},
            "test_names_unseen_in_train": self.unseen_test_names(),
            "source_splits": {s: "+".join(sorted(self.sources[s])) for s in SPLITS},
            "test_split": ("the source's test split" if self.official_test else
                           "cut by story (window.test_fraction): the source has no data.test_split"),
        }
