"""An offline stand-in for StoryReasoning: stories in the hub's schema whose next frame is
predictable from the previous ones.

Each story has a setting and one coloured shape (a quarter of them two). A shape moves one column per frame
across five columns and bounces at the edges, and it cycles through its own short loop of
actions. Every frame's caption states each shape's action and column, so copying
the last frame is always wrong, while a model that learns the dynamics can be right."""
import io
import random

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 192, 80
COLUMNS = ("at the far left", "at the left", "in the middle", "at the right", "at the far right")
COLOURS = {
    "red": (215, 40, 40), "blue": (40, 80, 215), "green": (30, 160, 60), "yellow": (235, 205, 30),
    "purple": (135, 50, 170), "orange": (240, 130, 20), "white": (245, 245, 245), "black": (25, 25, 25),
}
SHAPES = ("circle", "square", "triangle", "diamond")
ACTIONS = ("hops over a puddle", "spins in a circle", "rolls down a slope", "waves at the sky",
           "jumps up high", "dances a little jig", "sways in the wind", "glides along slowly")
SETTINGS = {  # name -> (sky colour, ground colour, landmark)
    "meadow": ((150, 200, 240), (90, 170, 70), "the old oak"),
    "beach": ((120, 190, 235), (230, 210, 150), "the lifeguard tower"),
    "city street": ((170, 175, 190), (110, 110, 115), "the lamp post"),
    "forest": ((95, 140, 110), (60, 100, 50), "the fallen log"),
    "desert": ((240, 210, 160), (210, 160, 90), "the cactus"),
    "snowfield": ((200, 215, 235), (240, 244, 250), "the snowman"),
}


def _encode_png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _draw_shape(draw, shape, colour, column, row):
    cell = WIDTH / len(COLUMNS)
    cx, cy, r = cell * (column + 0.5), (22 if row == 0 else 56), 13
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        draw.ellipse(box, fill=colour, outline=(0, 0, 0))
    elif shape == "square":
        draw.rectangle(box, fill=colour, outline=(0, 0, 0))
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour, outline=(0, 0, 0))
    else:
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour, outline=(0, 0, 0))


def _render(setting, characters, columns):
    sky, ground, _ = SETTINGS[setting]
    image = Image.new("RGB", (WIDTH, HEIGHT), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, HEIGHT * 0.55, WIDTH, HEIGHT), fill=ground)
    draw.rectangle((WIDTH * 0.45, HEIGHT * 0.25, WIDTH * 0.55, HEIGHT * 0.55), fill=tuple(c // 2 for c in ground))
    for character, column in zip(characters, columns):
        _draw_shape(draw, character["shape"], COLOURS[character["colour"]], column, character["row"])
    return image


def _new_character(rng, taken, row):
    colour, shape = rng.choice([(c, s) for c in COLOURS for s in SHAPES if (c, s) not in taken])
    period = rng.choice((2, 3))
    return {
        "colour": colour, "shape": shape, "row": row,
        "column": rng.randrange(len(COLUMNS)), "step": rng.choice((-1, 1)),
        "actions": rng.sample(ACTIONS, period),
    }


def _advance(character):
    """Move one column, bouncing off the edges."""
    if not 0 <= character["column"] + character["step"] < len(COLUMNS):
        character["step"] = -character["step"]
    character["column"] += character["step"]


def _sentence(cid, character, frame_index):
    name = f"the {character['colour']} {character['shape']}"
    action = character["actions"][frame_index % len(character["actions"])]
    return f"<gdo {cid}>{name.capitalize()}</gdo> <gda {cid}>{action}</gda> {COLUMNS[character['column']]}."


def make_story(rng, story_id):
    """One story as a dict in the StoryReasoning schema (images as PNG bytes)."""
    n_frames = rng.randint(5, 22)
    setting = rng.choice(sorted(SETTINGS))
    landmark = SETTINGS[setting][2]
    characters = [_new_character(rng, set(), 0)]
    if rng.random() < 0.25:
        characters.append(_new_character(rng, {(characters[0]["colour"], characters[0]["shape"])}, 1))
    images, segments, reasoning = [], [], []
    for t in range(n_frames):
        if t:
            for character in characters:
                _advance(character)
        ids = [f"char{i + 1}" for i in range(len(characters))]
        lines = [_sentence(cid, c, t) for cid, c in zip(ids, characters)]
        if t == 0:
            lines.insert(0, f"<gdl bg1>In the {setting}</gdl>, near <gdl lm1>{landmark}</gdl>:")
        if len(characters) == 2 and characters[0]["column"] == characters[1]["column"]:
            lines.append(f"<gdo char1 char2>They</gdo> <gda char1 char2>meet</gda> "
                         f"by <gdl lm1 bg1>{landmark}</gdl>.")
        segments.append(f"<gdi image{t + 1}>\n" + "\n".join(lines) + "\n</gdi>")
        images.append(_encode_png(_render(setting, characters, [c["column"] for c in characters])))
        rows = "\n".join(f"| {cid} | {c['colour']} {c['shape']} | {COLUMNS[c['column']]}, row {c['row'] + 1} |"
                         for cid, c in zip(ids, characters))
        reasoning.append(f"## Image {t + 1}\n\n### Characters\n| Character ID | Name | Position |\n"
                         f"|---|---|---|\n{rows}\n\n### Setting\n| bg1 | {setting} |\n| lm1 | {landmark} |")
    return {
        "story_id": story_id,
        "images": [{"bytes": b, "path": None} for b in images],
        "frame_count": n_frames,
        "chain_of_thought": "\n\n".join(reasoning),
        "story": "\n".join(segments),
    }


def stories(n_stories, seed):
    """Yield n_stories synthetic stories, deterministic from seed."""
    rng = random.Random(seed)
    for i in range(n_stories):
        yield make_story(rng, f"synthetic-{seed}-{i:05d}")
