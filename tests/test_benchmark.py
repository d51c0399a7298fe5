"""The synthetic benchmark: new casts, chance, facts only the pictures show, and the oracle."""
import io
import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from test_model import tiny, tiny_cache, windows

from storyseq.data import markup, synthetic
from storyseq.data.windows import Summary
from storyseq.embedding import features
from storyseq.embedding.features import decode_images, target_pixels
from storyseq.evaluation import oracle
from storyseq.evaluation.placement import placement
from storyseq.model.dataset import frame_values, load_windows


def frames_of(story):
    """(tagged captions, chain-of-thought sections, pictures as arrays) of a story's frames."""
    n = story["frame_count"]
    return ([tagged for tagged, _ in markup.frame_texts(story["story"], n)],
            markup.sections(story["chain_of_thought"], n),
            [np.array(Image.open(io.BytesIO(image["bytes"]))) for image in story["images"]])


def test_most_test_names_never_occur_in_training():
    stories = list(synthetic.stories(100, seed=2))
    summary = Summary()
    for i, story in enumerate(stories):
        summary.add_names("test" if i < 20 else "train", frames_of(story)[0])
    assert len(summary.names["test"]) > 20 and summary.unseen_test_names() >= 0.9


def test_the_oracle_is_the_next_frame_when_nothing_is_left_to_chance(monkeypatch):
    for chance in ("P_SURPRISE", "P_LEAVE", "P_ENTER"):
        monkeypatch.setattr(synthetic, chance, 0.0)
    checked = 0
    for story in synthetic.stories(30, seed=1):
        captions, sections, pictures = frames_of(story)
        for k in range(4, story["frame_count"]):
            caption, picture = oracle.next_frame(sections[k - 4:k])
            assert caption == captions[k] and np.array_equal(np.array(picture), pictures[k])
            checked += 1
    assert checked > 100


def test_chance_leaves_headroom_that_the_oracle_takes_best():
    """With chance the oracle is often wrong, yet right more often than any one fixed guess."""
    exact, same_as_last, n = 0, 0, 0
    for story in synthetic.stories(60, seed=3):
        captions, sections, _ = frames_of(story)
        for k in range(4, story["frame_count"]):
            exact += oracle.next_frame(sections[k - 4:k])[0] == captions[k]
            same_as_last += captions[k - 1] == captions[k]
            n += 1
    assert 0.2 < exact / n < 0.8 and same_as_last / n < 0.2


@pytest.mark.parametrize("seen, expected", [
    ({4: 0, 3: 1, 2: 0, 1: 1}, 0),  # a b a b -> a
    ({3: 1, 2: 0, 1: 1}, 0),  # walked in one frame before: b a b -> a
    ({4: 0, 3: 1, 2: 0, 1: 7}, 0),  # a b a ?: a surprise in frame K leaves the loop as it was -> a
    ({6: 0, 5: 1, 4: 0, 3: 1, 2: 5, 1: 1}, 0),  # a b a b ? b: the surprise is the odd one out -> a
])
def test_the_oracle_takes_the_likeliest_action_of_the_loop(seen, expected):
    assert oracle.likeliest_action(seen) == expected


def test_captions_tell_a_turn_only_when_it_happens():
    """Where a character stands is told only when it walks in or turns, and turns are further
    apart than K=4 frames, so frames 1..K's words never announce frame K+1's turn."""
    for story in synthetic.stories(40, seed=4):
        captions, sections, _ = frames_of(story)
        for caption, section in zip(captions, sections):
            for c in oracle.parse(section)["cast"]:
                at_edge = c["column"] in synthetic.SIDES
                told = f"<gdo {c['id']}>{c['name']}</gdo>" in caption and "edge" in caption.split(c["name"])[1][:60]
                assert told <= at_edge
    assert synthetic.COLUMNS - 1 > 4


def test_only_the_pictures_tell_whether_night_falls_next():
    """After four frames whose words say nothing of the light, night may fall or not; frame K's
    light, which its sky shows (darker at every step), says which."""
    outcomes = set()
    for story in synthetic.stories(60, seed=5):
        captions, sections, pictures = frames_of(story)
        for k in range(5, story["frame_count"]):  # frame 1 always names the place
            if not any("Night" in c or "Morning" in c for c in captions[k - 4:k]):
                light = oracle.parse(sections[k - 1])["light"]
                outcomes.add(("Night falls" in captions[k], light == synthetic.LIGHT_STEPS - 2))
    assert outcomes == {(False, False), (True, True)}, outcomes
    skies = [synthetic.render({"palette": 0, "light": light, "cast": []}).getpixel((0, 0))
             for light in range(synthetic.LIGHT_STEPS)]
    assert all(sum(a) > sum(b) for a, b in zip(skies, skies[1:]))


def test_the_text_only_ablation_sees_no_picture():
    cache, w = tiny_cache(), windows()
    model = tiny().eval()
    model.config.image_inputs = False
    changed = {**cache, "image_features": torch.randn_like(cache["image_features"])}
    frames = torch.rand(*w["inputs"].shape, 3, 16, 16)
    with torch.no_grad():
        context, _ = model.window_context(cache["image_features"], cache["text_features"], w["inputs"])
        other, _ = model.window_context(changed["image_features"], changed["text_features"], w["inputs"])
        assert torch.equal(context, other)
        assert torch.equal(model.predict_image(context, frames), model.predict_image(context, torch.rand_like(frames)))
        model.config.image_inputs = True
        seeing, _ = model.window_context(changed["image_features"], changed["text_features"], w["inputs"])
        assert not torch.equal(context, seeing)


def test_evaluate_gives_the_oracle_frames_1_to_k(small_project):
    """The oracle row of the small project is the oracle of each window's input frames, not of
    the frames shifted by one (which would hold frame K+1)."""
    frames = pq.read_table(small_project / "data/frames.parquet", columns=["story_id", "frame", "reasoning"]).to_pydict()
    section = dict(zip(zip(frames["story_id"], frames["frame"]), frames["reasoning"]))
    predictions = [json.loads(line) for line in (small_project / "plots/predictions.jsonl").read_text().splitlines()]
    right = shifted = 0
    for p in predictions:
        k = p["target_frame"] - 1
        ours = markup.plain_text(oracle.next_frame([section[(p["story_id"], f)] for f in range(k - 3, k + 1)])[0])
        leaked = markup.plain_text(oracle.next_frame([section[(p["story_id"], f)] for f in range(k - 2, k + 2)])[0])
        right += p["oracle"] == ours.lower()
        shifted += p["oracle"] == leaked.lower()
    assert right == len(predictions) > shifted
    scores = json.loads((small_project / "metrics/scores.json").read_text())
    assert set(scores["share_copy_last_to_oracle"]) == {"bleu", "rouge_l", "meteor", "character_f1", "image_mse",
                                                        "image_ssim", "placement"}


def target_size_pictures(images):
    return decode_images([synthetic.encode_png(image) for image in images], 32, 32)[1].float() / 255


def test_placement_finds_each_character_in_its_column_and_nowhere_else():
    story = synthetic.first_frame(random.Random(3))
    section = synthetic.record(story)
    moved = {**story, "cast": [{**c, "column": (c["column"] + 2) % synthetic.COLUMNS} for c in story["cast"]]}
    empty = {**story, "cast": []}
    truth, shifted, blank = target_size_pictures([synthetic.render(s) for s in (story, moved, empty)])
    assert placement([truth, shifted, blank], [oracle.parse(section)] * 3).tolist() == [1.0, 0.0, 0.0]
    assert np.isnan(placement([truth], [oracle.parse("## Image 1\nno record")])[0])


def test_evaluate_scores_placement_against_frame_k_plus_1(small_project):
    """copy_last's placement in baselines.json is its pictures (frame K) scored against frame K+1's
    records; scored against frame K's own records it would be perfect."""
    cache, _ = features.load(small_project / "data/features")
    windows = load_windows(small_project / "data/windows.parquet", cache)["test"]
    sections = frame_values(cache, "reasoning", small_project / "data")
    pictures = target_pixels(cache, windows["inputs"][:, -1])
    against = {name: placement(pictures, [oracle.parse(sections[r]) for r in rows.tolist()])
               for name, rows in (("target", windows["target"]), ("last", windows["inputs"][:, -1]))}
    baselines = json.loads((small_project / "metrics/baselines.json").read_text())
    assert baselines["copy_last"]["placement"] == pytest.approx(np.nanmean(against["target"]), abs=1e-6)
    assert np.nanmean(against["last"]) > 0.9 > baselines["copy_last"]["placement"]
