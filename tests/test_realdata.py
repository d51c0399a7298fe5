"""Real-data shape on a realistic stand-in in the hub's layout (tests/hub_layout.py): official
splits, real-length captions, and the whole pipeline through data.source=parquet."""
import io
import json
import re
import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from hub_layout import write_hub_folder
from PIL import Image

from storyseq.data import grounding, markup, sources
from storyseq.embedding.encoders import load_tokenizer
from storyseq.embedding.streaming import clipping
from storyseq.fixtures.project import ROOT, SMALL, make_project, run


def with_small(changes):
    """SMALL, with `changes` merged in section by section."""
    return {s: {**SMALL.get(s, {}), **changes.get(s, {})} for s in {*SMALL, *changes}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """(folder, {split: story ids}) of a stand-in in the hub's layout: 24 train and 8 test stories."""
    folder = tmp_path_factory.mktemp("hub")
    return folder, write_hub_folder(folder)


def frames_of(folder, split=""):
    """(story, [(tagged, plain) per frame]) of every story, or of one split's."""
    for path in sorted(Path(folder).rglob(f"{split}*.parquet")):
        for story in pq.read_table(path).to_pylist():
            yield story, markup.frame_texts(story["story"], story["frame_count"])


def windows_of(folder):
    """([tagged input frames], tagged target frame) of every window at the default window.k."""
    k = yaml.safe_load((ROOT / "params.yaml").read_text())["window"]["k"]
    for _, frames in frames_of(folder):
        tagged = [t for t, _ in frames]
        for start in range(len(tagged) - k):
            yield tagged[start:start + k], tagged[start + k]


def cast_names(frames):
    """Every name of a story's characters, from its single-id <gdo charN> tags."""
    return set().union(*grounding.names([t for t, _ in frames]).values())


def test_the_stand_in_looks_like_the_real_data(hub):
    folder, ids = hub
    assert sorted(p.name for p in (folder / "data").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    schema = pq.read_schema(folder / "data/test-00000-of-00001.parquet")
    assert datasets.Features.from_arrow_schema(schema) == sources.FEATURES
    stories = list(frames_of(folder))
    assert len(stories) == 32
    for story, frames in stories:
        for image in story["images"]:
            with Image.open(io.BytesIO(image["bytes"])) as img:
                assert img.format == "JPEG" and img.height == 240 and 426 <= img.width <= 575
        assert all(50 <= len(plain.split()) <= 90 for _, plain in frames)
        assert "</gdi>\n\n<gdi image2>" in story["story"]
        assert f"## Image {story['frame_count']}" in story["chain_of_thought"]
    text = "".join(story["story"] for story, _ in stories)
    assert "<gdl bg1 bg2 bg3>" in text and "<gdo char1 char2>" in text
    assert re.search(r"<gda char\d+>[^<]*</gdo>", text), "no mismatched closing tag"


def test_each_stand_in_story_has_its_own_cast_and_place(hub):
    folder, _ = hub
    seen = set().union(*(cast_names(frames) for _, frames in frames_of(folder, "train")))
    test_names = [name for _, frames in frames_of(folder, "test") for name in cast_names(frames)]
    assert len(test_names) >= 2 * 8 * 0.9
    assert sum(name not in seen for name in test_names) >= 0.9 * len(test_names)
    places = [re.findall(r"<gdl bg1>([^<]*)</gdl>", story["story"]) for story, _ in frames_of(folder)]
    assert all(len(set(p)) == 1 for p in places)  # one place per story, in every frame
    assert len({p[0] for p in places}) >= 0.75 * len(places)


def test_the_next_stand_in_frame_continues_the_window(hub):
    """Frame K+1's people are named in frames 1..K; their actions repeat a cycle that frame K alone does not show."""
    windows = list(windows_of(hub[0]))
    assert len(windows) > 50
    named_before = [set(grounding.names([target])) <= set(grounding.names(inputs)) for inputs, target in windows]
    assert sum(named_before) >= 0.8 * len(windows)
    cycling, observed = 0, 0
    for inputs, target in windows:
        actions = [dict(reversed(re.findall(r"<gda (char\d+)>([^<]*)</gd[a-z]>", t))) for t in inputs + [target]]
        for cid, action in actions[-1].items():
            earlier = [a.get(cid) for a in actions[-4:-1]]  # frames K-2, K-1, K: the first action tagged in each
            if None not in earlier:
                observed += 1
                cycling += action != earlier[-1] and action in earlier[:-1]
    assert observed > 30 and cycling >= 0.6 * observed
    assert not any(markup.plain_text(target) == markup.plain_text(inputs[-1]) for inputs, target in windows)


def test_default_max_tokens_clip_no_real_length_caption(hub):
    tokenizer = load_tokenizer("all-MiniLM-L6-v2")
    texts = [plain for _, frames in frames_of(hub[0]) for _, plain in frames]
    default = yaml.safe_load((ROOT / "params.yaml").read_text())["embed"]["max_tokens"]
    assert clipping(texts, tokenizer, default)["clipped_fraction"] == 0
    assert clipping(texts, tokenizer, 64)["clipped_fraction"] > 0.5  # the old default clipped most of them


def fetch_and_window(folder, path, tmp_path):
    project = make_project(tmp_path, with_small({"data": {"source": "parquet", "path": str(path), "n_stories": 100,
                                                          "n_test_stories": 100}}))
    run(["python", "-m", "stages.fetch"], project)
    result = run(["python", "-m", "stages.window"], project)
    windows = pq.read_table(project / "data/windows.parquet").to_pylist()
    split_of = {w["story_id"]: w["split"] for w in windows}
    return ({s: {sid for sid, x in split_of.items() if x == s} for s in ("train", "val", "test")},
            json.loads((project / "metrics/fetch.json").read_text()), json.loads((project / "metrics/data.json").read_text()),
            result)


def test_a_hub_layout_folder_gives_the_official_test_split(hub, tmp_path):
    folder, ids = hub
    splits, fetched, data, _ = fetch_and_window(folder, folder, tmp_path)
    assert splits["test"] == set(ids["test"])
    assert splits["train"] | splits["val"] == set(ids["train"]) and not splits["train"] & splits["val"]
    assert len(splits["val"]) == round(24 * yaml.safe_load((ROOT / "params.yaml").read_text())["window"]["val_fraction"])
    assert fetched["stories"] == {"train": 24, "test": 8} and fetched["test_split_found"] is True
    assert data["source_splits"] == {"train": "train", "val": "train", "test": "test"}
    assert data["test_split"] == "the source's test split"


@pytest.mark.parametrize("layout", ["one file", "folder without test shards"])
def test_a_source_without_a_test_split_is_cut_by_story_and_says_so(hub, tmp_path, layout):
    folder, ids = hub
    if layout == "one file":
        path = folder / "data/train-00000-of-00002.parquet"
        expected = {s["story_id"] for s in pq.read_table(path, columns=["story_id"]).to_pylist()}
    else:
        path = tmp_path / "copy"
        shutil.copytree(folder / "data", path / "data", ignore=shutil.ignore_patterns("test-*"))
        expected = set(ids["train"])
    splits, fetched, data, _ = fetch_and_window(folder, path, tmp_path / "project")
    assert splits["train"] | splits["val"] | splits["test"] == expected and splits["test"]
    assert fetched["stories"] == {"train": len(expected)} and fetched["test_split_found"] is False
    assert data["source_splits"] == {"train": "train", "val": "train", "test": "train"}
    assert data["test_split"].startswith("cut by story")


def test_the_hub_source_reads_both_splits_and_records_the_commit(hub, monkeypatch):
    """The hub path, offline: the builder of the local stand-in plays the hub repository."""
    folder, ids = hub
    local = datasets.load_dataset_builder
    monkeypatch.setattr(sources, "hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset_builder", lambda name, revision: local(str(folder)))
    monkeypatch.setattr(sources, "hub_commit", lambda name, revision: f"{revision}-resolved")
    params = {"data": {"source": "hub", "hub_name": "daniel3303/StoryReasoning", "revision": "main", "split": "train",
                       "test_split": "test", "n_stories": 5, "n_test_stories": 100}}
    stories, provenance = sources.open_source(params)
    stories = list(stories)
    assert [s["split"] for s in stories] == ["train"] * 5 + ["test"] * 8
    assert {s["story_id"] for s in stories[5:]} == set(ids["test"])
    assert provenance["commit"] == "main-resolved" and provenance["test_split_found"] is True


def test_the_whole_pipeline_runs_on_the_stand_in(hub, tmp_path):
    """dvc repro through data.source=parquet with the test-only encoders and real-length captions."""
    folder, ids = hub
    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    project = make_project(tmp_path, with_small({
        "data": {"source": "parquet", "path": str(folder), "n_stories": 100, "n_test_stories": 100},
        "embed": {"max_tokens": defaults["embed"]["max_tokens"]},
        "evaluate": {"max_new_tokens": defaults["evaluate"]["max_new_tokens"], "bootstrap_samples": 200}}))
    run(["dvc", "repro"], project)
    windows = pq.read_table(project / "data/windows.parquet").to_pylist()
    assert {w["story_id"] for w in windows if w["split"] == "test"} == set(ids["test"])
    assert json.loads((project / "metrics/embed.json").read_text())["clipped_frames"] == 0
    metrics = {"model": json.loads((project / "metrics/scores.json").read_text()),
               **json.loads((project / "metrics/baselines.json").read_text())}
    n_test = sum(w["split"] == "test" for w in windows)
    assert json.loads((project / "metrics/data.json").read_text())["windows"]["test"] == n_test
    assert "oracle" not in metrics and "share_copy_last_to_oracle" not in metrics["model"]  # synthetic data only
    scored = [json.loads(line)["character_f1"] is not None for line in open(project / "plots/window_scores.jsonl")]
    assert len(scored) == n_test and 0 < sum(scored) <= n_test
    for system in ("model", "copy_last", "nearest_neighbor", "constant"):
        assert 0 <= metrics[system]["character_f1"] <= 1
    intervals = json.loads((project / "metrics/intervals.json").read_text())
    for baseline in ("copy_last", "nearest_neighbor", "constant"):
        for score in ("bleu", "rouge_l", "meteor", "character_f1", "image_mse", "image_psnr"):
            low, diff, high = (intervals[f"model_minus_{baseline}"][score][k] for k in ("low", "difference", "high"))
            assert low <= high and (low <= diff <= high or score == "bleu")
    assert "constant" in (project / "plots/scores.csv").read_text()
