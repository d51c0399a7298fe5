"""A stand-in for a downloaded copy of StoryReasoning, in the hub's layout: train and test
shards written by `datasets` with the project's FEATURES, JPEG frames 240 px high and
426-575 px wide, 50-90-word segments separated by blank lines, grouped ids, mismatched
closing tags, and a chain of thought with `## Image N` sections.

Like the real data, every story has its own cast (names built from syllables, so test names
are almost never seen in training), its own place and its own objects, and frame K+1
continues frames 1..K: mostly the same people, the same place and objects, and each
character mostly repeats a short cycle of actions (period 2 or 3), so part of frame K+1 is told
only by frames before K. Mood and reaction sentences are noise. In the images each
character is a block of a fixed colour that moves steadily across the frame."""
import argparse
import io
import random
from pathlib import Path

from datasets import Dataset
from PIL import Image, ImageDraw

from storyseq.data.markup import plain_text
from storyseq.data.sources import FEATURES

ONSETS = "b d f g h k l m n p r s t v z br dr kr tr sh ch th".split()
VOWELS = "a e i o u a e i o ai ea ou".split()
TITLES = {"Dr.": None, "Captain": None, "Officer": None, "Mrs.": "She", "Ms.": "She", "Mr.": "He"}
COMMON_NAMES = ("James", "Sarah", "Michael", "Emma", "David", "Anna")
ATTIRE = ("dress", "coat", "jacket", "sweater", "shirt", "uniform", "hoodie", "suit", "scarf", "vest")
COLOURS = ("red", "blue", "green", "grey", "black", "white", "brown", "yellow", "dark", "striped", "faded")
PLACE_ADJECTIVES = ("dim", "narrow", "crowded", "quiet", "cluttered", "cold", "small", "sunlit", "shabby", "bright",
                    "empty", "cramped", "spacious", "old", "damp", "noisy", "elegant", "dusty")
PLACES = ("motel room", "kitchen", "hallway", "office", "bar", "hospital ward", "garage", "library", "train car",
          "diner", "living room", "warehouse", "classroom", "laboratory", "attic", "courtroom", "bedroom",
          "police station", "restaurant", "basement", "waiting room", "barn", "studio", "chapel")
LIGHTS = ("dim yellow light", "harsh white light", "soft morning light", "flickering neon light", "grey daylight",
          "warm lamplight", "pale blue light", "the glow of a television")
OBJECT_NOUNS = ("letter", "radio", "lantern", "suitcase", "photograph", "map", "bottle", "notebook", "phone", "knife",
                "umbrella", "box", "camera", "key", "envelope", "glass", "clock", "book", "bag", "candle")
OBJECT_ADJECTIVES = ("old", "brass", "torn", "small", "leather", "broken", "shiny", "heavy", "wooden", "black", "red")
ACTIONS = ("picks up {o}", "sets down {o}", "looks at {o}", "points at {o}", "opens {o}", "holds {o} close",
           "sits down", "stands up", "crosses the room", "leans against the wall", "folds {p} arms", "checks the time",
           "opens the door", "pours a drink", "nods slowly", "shakes {p} head", "paces back and forth",
           "kneels down", "rubs {p} eyes", "turns toward the window", "laughs quietly", "raises {p} voice",
           "takes a step back", "reaches for {o}", "stares at the floor", "speaks softly", "clenches {p} fists",
           "smiles faintly", "wipes {p} face", "adjusts {p} collar", "writes something down", "listens carefully")
REACTIONS = ("glances around", "frowns", "hesitates", "sighs", "looks away", "swallows hard", "blinks", "waits")
MANNERS = ("as if lost in thought", "without a word", "for a moment", "clearly unsure what to do next",
           "trying to stay calm", "with a tired expression")
GROUP_ACTIONS = ("exchange a look", "fall silent", "share a quiet moment", "stand close together", "face each other")
MOODS = ("The light is dim and the air feels heavy with tension.",
         "Rain taps against the glass while the room stays quiet.",
         "A clock ticks somewhere behind them, loud in the silence.",
         "Nobody speaks for a long moment, and the tension grows.",
         "The atmosphere is tense, as if something is about to happen.",
         "Outside, a car passes and its headlights sweep across the wall.",
         "There is a sense of unease that nobody wants to name.",
         "The moment feels fragile, and every small sound seems louder than it should.",
         "Shadows stretch across the floor as the evening goes on.",
         "It is hard to tell what either of them is really thinking.")


def _name(rng):
    """A person's name and pronoun: mostly syllable-built, often several WordPiece pieces."""
    word = lambda: "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + ("n" if rng.random() < 0.2 else "")
                           for _ in range(rng.randint(2, 3))).capitalize()
    kind, pronoun = rng.random(), rng.choice(("She", "He"))
    if kind < 0.05:
        return rng.choice(COMMON_NAMES), pronoun
    if kind < 0.25:
        title = rng.choice(sorted(TITLES))
        return f"{title} {word()}", TITLES[title] or pronoun
    return (f"{word()} {word()}" if kind < 0.4 else word()), pronoun


def _cast(rng, objects):
    """2-3 characters: name, pronoun, attire, block colour and a per-story cycle of actions."""
    cast = {}
    for i in range(rng.randint(2, 3)):
        name, pronoun = _name(rng)
        possessive = {"She": "her", "He": "his"}[pronoun]
        cycle = [a.format(o=rng.choice(objects), p=possessive) for a in rng.sample(ACTIONS, rng.randint(2, 3))]
        cast[f"char{i + 1}"] = {"name": name, "pronoun": pronoun, "cycle": cycle,
                                "attire": f"wearing a {rng.choice(COLOURS)} {rng.choice(ATTIRE)}",
                                "colour": tuple(rng.randrange(256) for _ in range(3)),
                                "x": rng.uniform(0, 300), "speed": rng.uniform(-25, 25)}
    return cast


def _present(rng, cast, before):
    """Who is in the next frame: mostly the previous frame's people; now and then one enters or leaves."""
    if not before:
        present = [cid for cid in cast if rng.random() < 0.8]
    else:
        present = [cid for cid in cast if (cid in before) != (rng.random() < 0.12)]
    return present or [rng.choice(sorted(cast))]


def _segment(rng, scene, cast, present, n):
    """Tagged text of frame n: the scene, each present character's cycle action (one in ten
    off the cycle), optional noise sentences, then moods until 50-90 words."""
    room = scene["place"].split()[-1]
    sentences = [(f"In <gdl bg1>{scene['place']}</gdl>, under <gdl bg2>{scene['light']}</gdl>, "
                  f"the scene {rng.choice(('continues', 'unfolds', 'goes on'))}.", True)]
    for cid in present:
        who = cast[cid]
        close = "</gdo>" if rng.random() < 0.1 else "</gda>"
        action = who["cycle"][(n - 1) % len(who["cycle"])] if rng.random() < 0.9 else rng.choice(REACTIONS)
        sentences.append((f"<gdo {cid}>{who['name']}</gdo>, {who['attire']}, <gda {cid}>{action}{close}.", True))
        if rng.random() < 0.5:
            sentences.append((f"<gdo {cid}>{who['pronoun']}</gdo> <gda {cid}>{rng.choice(REACTIONS)}</gda> "
                              f"{rng.choice(MANNERS)}.", False))
    if len(present) > 1 and rng.random() < 0.6:
        ids = " ".join(present)
        sentences.append((f"<gdo {ids}>They</gdo> <gda {ids}>{rng.choice(GROUP_ACTIONS)}</gda> across "
                          f"<gdl bg1 bg2 bg3>the {room}</gdl>.", False))
    if rng.random() < 0.5:
        oid = rng.randrange(len(scene["objects"]))
        sentences.append((f"<gdo obj{oid + 1}>{scene['objects'][oid].capitalize()}</gdo> lies nearby, "
                          f"within reach.", False))
    count = lambda chosen: len(plain_text(" ".join(chosen)).split())
    while count(s for s, _ in sentences) > 90:  # drop the last optional sentence
        sentences.pop(max(i for i, (_, required) in enumerate(sentences) if not required))
    chosen, target = [s for s, _ in sentences], rng.randint(50, 75)
    for mood in rng.sample(MOODS, len(MOODS)):
        if count(chosen) >= target or count(chosen + [mood]) > 90:
            break
        chosen.append(mood)
    return "\n".join(" ".join(chosen[i:i + 2]) for i in range(0, len(chosen), 2))


def _frame(rng, scene, cast, present, n):
    """A JPEG: the place's colour, the objects as fixed squares, each present character a moving block."""
    width = scene["width"]
    image = Image.new("RGB", (width, 240), tuple(min(255, max(0, c + rng.randint(-8, 8))) for c in scene["colour"]))
    draw = ImageDraw.Draw(image)
    for i, _ in enumerate(scene["objects"]):
        draw.rectangle((20 + 50 * i, 20, 50 + 50 * i, 50), fill=scene["object_colours"][i])
    for i, cid in enumerate(sorted(cast)):
        if cid in present:
            who = cast[cid]
            x = (who["x"] + who["speed"] * (n - 1)) % (width - 60)
            draw.rectangle((x, 70 + 20 * i, x + 60, 220), fill=who["colour"])
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _reasoning(scene, cast, present, n):
    rows = "\n".join(f"| {cid} | {cast[cid]['name']} | {cast[cid]['attire']} |" for cid in present)
    objects = "\n".join(f"| obj{i + 1} | {o} |" for i, o in enumerate(scene["objects"]))
    return (f"## Image {n}\n\n### Characters\n| Character ID | Name | Description |\n|---|---|---|\n{rows}\n\n"
            f"### Objects\n| Object ID | Description |\n|---|---|\n{objects}\n\n"
            f"### Setting\n| Setting ID | Description |\n|---|---|\n| bg1 | {scene['place']} |\n| bg2 | {scene['light']} |")


def story(rng, story_id):
    """One story in the hub's schema: 5 to 16 frames (real ones have about 12), its own cast, place, objects."""
    n_frames = rng.randint(5, 16)
    objects = [f"the {a} {o}" for a, o in zip(rng.sample(OBJECT_ADJECTIVES, 3), rng.sample(OBJECT_NOUNS, 3))]
    scene = {"place": f"the {rng.choice(PLACE_ADJECTIVES)} {rng.choice(PLACES)}", "light": rng.choice(LIGHTS),
             "objects": objects[:rng.randint(1, 3)], "width": rng.randint(426, 575),
             "colour": tuple(rng.randrange(40, 200) for _ in range(3)),
             "object_colours": [tuple(rng.randrange(256) for _ in range(3)) for _ in range(3)]}
    cast, present = _cast(rng, scene["objects"]), []
    segments, images, reasoning = [], [], []
    for n in range(1, n_frames + 1):
        present = _present(rng, cast, present)
        segments.append(f"<gdi image{n}>\n{_segment(rng, scene, cast, present, n)}\n</gdi>")
        images.append({"bytes": _frame(rng, scene, cast, present, n), "path": None})
        reasoning.append(_reasoning(scene, cast, present, n))
    return {"story_id": story_id, "images": images, "frame_count": n_frames,
            "chain_of_thought": "\n\n".join(reasoning), "story": "\n\n".join(segments)}


def write_hub_folder(folder, n_train=24, n_test=8, seed=0):
    """Write data/train-*.parquet (two shards) and data/test-*.parquet under folder; return
    {split: [story ids]}. Each split draws from its own random stream."""
    ids = {}
    data = Path(folder) / "data"
    data.mkdir(parents=True, exist_ok=True)
    for split, n, shards in (("train", n_train, 2), ("test", n_test, 1)):
        rng = random.Random(f"{seed}-{split}")
        stories = [story(rng, f"{rng.getrandbits(32):08x}") for _ in range(n)]
        ids[split] = [s["story_id"] for s in stories]
        for shard in range(shards):
            part = stories[shard::shards]
            Dataset.from_list(part, features=FEATURES).to_parquet(str(data / f"{split}-{shard:05d}-of-{shards:05d}.parquet"))
    return ids


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write a StoryReasoning stand-in in the hub's layout to a folder "
                                                 "(from the project root: PYTHONPATH=. python tests/hub_layout.py ...).")
    parser.add_argument("folder")
    parser.add_argument("--train", type=int, default=24, help="train stories")
    parser.add_argument("--test", type=int, default=8, help="test stories")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_hub_folder(args.folder, args.train, args.test, args.seed)
