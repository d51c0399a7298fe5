"""Synthetic stories, splits, windows, and the window stage on bad input."""
import json
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset

from storyseq.data import markup, synthetic
from storyseq.data.sources import FEATURES, RAW_SCHEMA, open_source, write_stories
from storyseq.data.windows import assign_splits, window_rows
from storyseq.fixtures.project import make_project, run, update_params

PARQUET = {"source": "parquet", "split": "train", "test_split": "test", "n_stories": 30, "n_test_stories": 30}


def write_raw(folder, stories):
    """data/raw/stories.parquet as fetch writes it from a source with one split."""
    raw = folder / "data/raw/stories.parquet"
    raw.parent.mkdir(parents=True)
    write_stories(({**s, "split": "train"} for s in stories), raw)


def test_synthetic_stories_follow_the_schema_and_are_deterministic(tmp_path):
    stories = list(synthetic.stories(30, seed=3))
    assert stories == list(synthetic.stories(30, seed=3))
    assert stories != list(synthetic.stories(30, seed=4))
    assert all(5 <= s["frame_count"] == len(s["images"]) <= 22 for s in stories)
    Dataset.from_list(stories, features=FEATURES).to_parquet(str(tmp_path / "shard.parquet"))
    read, provenance = open_source({"data": {**PARQUET, "path": tmp_path}})
    read = list(read)
    assert provenance["test_split_found"] is False and {r["split"] for r in read} == {"train"}
    assert [r["story_id"] for r in read] == [s["story_id"] for s in stories]
    story = read[0]
    assert story["images"][0]["bytes"][:4] == b"\x89PNG"
    assert "## Image 1" in story["chain_of_thought"]
    assert len(markup.frame_texts(story["story"], story["frame_count"])) == story["frame_count"]
    assert any("<gdo char1 char2>" in s["story"] for s in stories)  # grouped ids, as in real stories


def test_splits_are_by_story_and_windows_slide():
    ids = [f"s{i}" for i in range(100)]
    split = assign_splits(ids, 0.15, 0.15, seed=1)
    assert split == assign_splits(reversed(ids), 0.15, 0.15, seed=1)
    counts = {s: sum(v == s for v in split.values()) for s in ("train", "val", "test")}
    assert counts == {"train": 70, "val": 15, "test": 15}
    official = assign_splits(ids, 0.15, 0.15, seed=1, official_test=ids[:10])
    assert {sid for sid, s in official.items() if s == "test"} == set(ids[:10])
    assert sum(s == "val" for s in official.values()) == round(90 * 0.15)
    rows = window_rows("s", "train", n_frames=7, k=4, stride=1)
    assert [(r["inputs"], r["target"]) for r in rows] == [([1, 2, 3, 4], 5), ([2, 3, 4, 5], 6), ([3, 4, 5, 6], 7)]
    assert [r["target"] for r in window_rows("s", "train", 9, 4, 2)] == [5, 7, 9]


def _bad_stories():
    good = list(synthetic.stories(12, seed=5))
    bad = [{**s, "story_id": f"bad-{i}"} for i, s in enumerate(good[:5])]
    bad[0]["story"] = re.sub(r"<gdi image2>.*?</gdi>", "", bad[0]["story"], flags=re.S)  # 1 segment short
    bad[1]["story"] = re.sub(r"<gdi image3>.*?</gdi>", "<gdi image3> <gdo char9></gdo> </gdi>", bad[1]["story"],
                             flags=re.S)  # an empty segment
    bad[2]["images"] = [{"bytes": b"not an image", "path": None}] + bad[2]["images"][1:]
    bad[3]["story"] = ""
    short = synthetic.make_story(random.Random(0), "short")
    short["images"], short["frame_count"] = short["images"][:4], 4
    short["story"] = "\n".join(f"<gdi image{i}>x{i}</gdi>" for i in range(1, 5))
    bad[4] = short
    return good + bad + [dict(good[0])]  # the last is a duplicate story_id


@pytest.mark.slow
def test_window_skips_each_kind_of_bad_story(tmp_path):
    folder = make_project(tmp_path)
    write_raw(folder, _bad_stories())
    result = run(["python", "-m", "stages.window"], folder)
    summary = json.loads((folder / "metrics/data.json").read_text())
    assert summary["stories_read"] == 18 and summary["stories_kept"] == 12
    assert summary["skipped"] == {"duplicate_story_id": 1, "invalid_text": 1, "missing_or_empty_segment": 1,
                                  "segment_count_mismatch": 1, "too_short": 1, "undecodable_image": 1}
    assert "skip story 'short': 4 frames, fewer than window.k+1=5" in result.stderr
    frames = pq.read_table(folder / "data/frames.parquet").to_pylist()
    assert len({f["story_id"] for f in frames}) == 12
    splits = {}
    for f in frames:
        splits.setdefault(f["story_id"], set()).add(f["split"])
    assert all(len(s) == 1 for s in splits.values()), "a story is in two splits"


@pytest.mark.slow
def test_window_names_a_few_skipped_stories_per_reason_and_counts_the_rest(tmp_path):
    folder = make_project(tmp_path)
    write_raw(folder, synthetic.stories(12, seed=5))
    update_params(folder, {"window": {"k": 25}})
    result = run(["python", "-m", "stages.window"], folder, check=False)
    log = result.stderr.splitlines()
    assert result.returncode == 1 and len(log) == 5, result.stderr
    assert all(line.startswith("skip story ") and line.endswith("fewer than window.k+1=26") for line in log[:3])
    assert log[3] == "... and 9 more stories skipped: too_short"
    assert log[4] == "error: window: no valid story remains of 12 read ({'too_short': 12})"


@pytest.mark.slow
def test_window_skips_text_that_is_not_utf8(tmp_path):
    folder = make_project(tmp_path)
    stories = list(synthetic.stories(12, seed=5))
    table = pa.Table.from_pylist([{**FEATURES.encode_example(s), "split": "train"} for s in stories], schema=RAW_SCHEMA)
    story = table.column("story").cast(pa.binary()).to_pylist()
    story[0] = b"<gdi image1>\xff\xfe</gdi>"
    table = table.set_column(table.schema.get_field_index("story"), "story", pa.array(story, pa.binary()))
    (folder / "data/raw").mkdir(parents=True)
    pq.write_table(table, folder / "data/raw/stories.parquet")
    run(["python", "-m", "stages.window"], folder)
    assert json.loads((folder / "metrics/data.json").read_text())["skipped"] == {"invalid_text": 1}


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    ({"window": {"k": 0}}, "window.k must be an integer >= 1, got 0"),
    ({"window": {"val_fraction": 0.6, "test_fraction": 0.5}}, "window.val_fraction + window.test_fraction must be < 1"),
    ({"window": {"test_fraction": 0}}, "window.test_fraction must be a number in (0.0, 1.0]"),
    ({"window": {"k": 30}}, "window: no valid story remains of 12 read"),
])
def test_window_fails_in_one_line_and_writes_nothing(tmp_path, change, message):
    folder = make_project(tmp_path)
    write_raw(folder, synthetic.stories(12, seed=5))
    update_params(folder, change)
    result = run(["python", "-m", "stages.window"], folder, check=False)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert not (folder / "data/frames.parquet").exists() and not (folder / "data/windows.parquet").exists()
    assert not [p for p in Path(folder / "data").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    ({"data": {"source": "ftp"}}, "data.source must be one of synthetic, hub, parquet, got 'ftp'"),
    ({"data": {"source": "hub"}}, "use data.source=parquet with a local copy, or data.source=synthetic"),
    ({"data": {"source": "parquet", "path": "nowhere"}}, "data.path=nowhere holds no parquet file"),
    ({"data": {"n_stories": 0}}, "data.n_stories must be an integer >= 1, got 0"),
])
def test_fetch_fails_fast_in_one_line(tmp_path, change, message):
    folder = make_project(tmp_path, change)
    result = run(["python", "-m", "stages.fetch"], folder, check=False)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "data/raw/stories.parquet").exists()
