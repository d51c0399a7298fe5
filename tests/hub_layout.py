"""A stand-in for a downloaded copy of StoryReasoning, in the hub's layout: train and test
shards written by `datasets` with the project's FEATURES, JPEG frames 240 px high and
426-575 px wide, 50-90-word segments separated by blank lines, grouped ids, mismatched
closing tags, and a chain of thought with `## Image N` sections."""
import io
import random
from pathlib import Path

from datasets import Dataset
from PIL import Image, ImageDraw

from storyseq.markup import plain_text
from storyseq.sources import FEATURES

NAMES = ("Mara", "Elias", "Captain Reyes", "Nora", "Tomas", "Ingrid", "Walter", "June", "Felix", "Dr. Hale")
PRONOUNS = ("She", "He")
OBJECTS = ("the letter", "an old radio", "a brass lantern", "the car keys", "a torn map", "the photograph")
PLACES = ("the kitchen", "a narrow hallway", "the docks", "the hospital ward", "a crowded bar", "the rooftop")
ACTIONS = ("stands", "turns away", "leans closer", "glances back", "walks slowly", "waits", "reaches out", "whispers")
MOODS = ("The light is dim and the air feels heavy with tension.",
         "Rain taps against the glass while the room stays quiet.",
         "A clock ticks somewhere behind them, loud in the silence.",
         "Nobody speaks for a long moment, and the tension grows.")


def _sentence(rng, cast, frame_chars):
    """One tagged sentence of about 9 to 15 words about the characters of the frame."""
    cid = rng.choice(frame_chars)
    name, kind = cast[cid], rng.random()
    if kind < 0.2 and len(frame_chars) > 1:
        ids = " ".join(frame_chars)
        return (f"<gdo {ids}>They</gdo> <gda {ids}>exchange a look</gda> across <gdl bg1 bg2 bg3>the walls</gdl> "
                f"of the room.")
    if kind < 0.35:
        return f"<gdo {cid}>{name}</gdo> <gda {cid}>{rng.choice(ACTIONS)}</gdo> beside <gdo obj1>{rng.choice(OBJECTS)}</gdo>."
    if kind < 0.5:
        return f"<gdo {cid}>{rng.choice(PRONOUNS)}</gdo> <gda {cid}>{rng.choice(ACTIONS)}</gda>, clearly unsure what to do next."
    if kind < 0.65:
        return rng.choice(MOODS)
    return (f"<gdo {cid}>{name}</gdo> <gda {cid}>{rng.choice(ACTIONS)}</gda> in <gdl bg1>{rng.choice(PLACES)}</gdl>, "
            f"holding <gdo obj2>{rng.choice(OBJECTS)}</gdo> tightly.")


def _segment(rng, cast, frame_chars):
    """Tagged text of one frame: sentences until 50 to 90 plain words, some on their own line."""
    target, sentences = rng.randint(50, 75), []
    while len(plain_text(" ".join(sentences)).split()) < target:
        sentences.append(_sentence(rng, cast, frame_chars))
    return "\n".join(" ".join(sentences[i:i + 2]) for i in range(0, len(sentences), 2))


def _frame(rng, width, characters):
    image = Image.new("RGB", (width, 240), tuple(rng.randrange(40, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for i, _ in enumerate(characters):
        x = rng.randrange(0, width - 80)
        draw.rectangle((x, 60 + 20 * i, x + 60, 220), fill=tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def story(rng, story_id):
    """One story in the hub's schema, with 5 to 9 frames."""
    n_frames, width = rng.randint(5, 9), rng.randint(426, 575)
    cast = {f"char{i + 1}": name for i, name in enumerate(rng.sample(NAMES, rng.randint(2, 3)))}
    segments, images, reasoning = [], [], []
    for n in range(1, n_frames + 1):
        frame_chars = sorted(rng.sample(sorted(cast), rng.randint(1, len(cast))))
        segments.append(f"<gdi image{n}>\n{_segment(rng, cast, frame_chars)}\n</gdi>")
        images.append({"bytes": _frame(rng, width, frame_chars), "path": None})
        rows = "\n".join(f"| {cid} | {cast[cid]} | in frame |" for cid in frame_chars)
        reasoning.append(f"## Image {n}\n\n### Characters\n| Character ID | Name | Description |\n|---|---|---|\n"
                         f"{rows}\n\n### Objects\n| Object ID | Description |\n|---|---|\n| obj1 | an object |\n\n"
                         f"### Setting\n| Setting ID | Description |\n|---|---|\n| bg1 | a room |")
    return {"story_id": story_id, "images": images, "frame_count": n_frames,
            "chain_of_thought": "\n\n".join(reasoning), "story": "\n\n".join(segments)}


def write_hub_folder(folder, n_train=24, n_test=8, seed=0):
    """Write data/train-*.parquet (two shards) and data/test-*.parquet under folder; return
    {split: [story ids]}."""
    rng, ids = random.Random(seed), {}
    data = Path(folder) / "data"
    data.mkdir(parents=True, exist_ok=True)
    for split, n, shards in (("train", n_train, 2), ("test", n_test, 1)):
        stories = [story(rng, f"{rng.getrandbits(32):08x}") for _ in range(n)]
        ids[split] = [s["story_id"] for s in stories]
        for shard in range(shards):
            part = stories[shard::shards]
            Dataset.from_list(part, features=FEATURES).to_parquet(str(data / f"{split}-{shard:05d}-of-{shards:05d}.parquet"))
    return ids
