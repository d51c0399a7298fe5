"""The offline benchmark: stories in StoryReasoning's hub schema, drawn from known rules with
known chance, so that frame K+1 is never fully determined and its most probable form (the
oracle, storyseq/evaluation/oracle.py) can be computed.

- Every story has its own place and its own cast: names are built from syllables, so most
  test names never occur in training and a decoder must copy them from frames 1..K.
- Each character repeats its own loop of LOOP_LENGTHS actions; with chance P_SURPRISE it
  does a random other action instead. Characters leave (P_LEAVE) and new ones walk in (P_ENTER).
- Each character walks one column a frame across COLUMNS columns and turns back at the edges.
  Captions say where a character is only when it walks in or turns back at an edge. A turn
  comes every COLUMNS - 1 frames, more than K=4 apart, so frames 1..K's captions never tell
  that one is due in frame K+1; their pictures, which show every character's colour, column
  and heading, do.
- The sky darkens one step a frame over LIGHT_STEPS steps; a caption says so only when night
  falls or morning comes, LIGHT_STEPS frames apart, so frame K+1's nightfall is told by the
  shade of frames 1..K's skies, not by their words.
- Every frame's `## Image N` chain-of-thought section records what the frame shows (cast,
  colours, columns, actions): what the oracle reads."""
import io
import random

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 192, 96
RADIUS = 12  # half the side of a character's shape, in pixels
ROW_Y = (18, 48, 78)  # the y of a character's centre in each of the MAX_CAST rows
COLUMNS = 6
MAX_CAST = 3
LIGHT_STEPS = 8  # the sky darkens one step a frame; night falls at the last step, morning comes after it
NIGHT = (20, 24, 60)
LOOP_LENGTHS = (2,)  # a character's loop has one of these lengths, each equally likely
P_SURPRISE = 0.2  # a character does a random other action instead of its loop's next one
P_LEAVE = 0.08    # per frame, a character walks away (never the last one on stage)
P_ENTER = 0.12    # per frame, a new character walks in at an edge (while fewer than MAX_CAST are on stage)
COLOURS = {
    "red": (215, 40, 40), "blue": (40, 80, 215), "green": (30, 160, 60), "yellow": (235, 205, 30),
    "purple": (135, 50, 170), "orange": (240, 130, 20), "white": (245, 245, 245), "black": (25, 25, 25),
}
SHAPES = ("circle", "square", "triangle", "diamond")
ACTIONS = ("hops", "spins around", "waves", "sits down", "stands up", "claps", "bows", "stretches",
           "looks up", "nods", "laughs", "sings a song")
PALETTES = (  # (sky, ground)
    ((150, 200, 240), (90, 170, 70)), ((120, 190, 235), (230, 210, 150)), ((170, 175, 190), (110, 110, 115)),
    ((95, 140, 110), (60, 100, 50)), ((240, 210, 160), (210, 160, 90)), ((200, 215, 235), (240, 244, 250)),
)
LANDMARKS = ("the old oak", "the well", "the stone bridge", "the windmill", "the lamp post", "the fountain")
ONSETS = "b d f g h k l m n p r s t v z br dr kr tr sh th".split()
VOWELS = "a e i o u ai ea ou".split()
PLACE_ENDINGS = ("ford", "mere", "wick", "dale", "holm", "stead")
SIDES, INWARD = {0: "left", COLUMNS - 1: "right"}, {0: 1, COLUMNS - 1: -1}  # an edge column's side; heading there


def _syllables(rng, n):
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(n))


def _new_character(rng, story, row, column=None):
    """A new character in `row`: its own name, colour, shape and action loop."""
    taken = {(c["colour"], c["shape"]) for c in story["cast"]}
    colour, shape = rng.choice([(c, s) for c in COLOURS for s in SHAPES if (c, s) not in taken])
    story["next_id"] += 1
    column = rng.randrange(COLUMNS) if column is None else column
    heading = INWARD.get(column, rng.choice((-1, 1)))
    loop = rng.sample(range(len(ACTIONS)), rng.choice(LOOP_LENGTHS))
    name = _syllables(rng, rng.choice((2, 3))).capitalize()
    return {"id": f"char{story['next_id']}", "name": name, "colour": colour, "shape": shape, "row": row,
            "column": column, "heading": heading, "loop": loop, "phase": 0, "action": loop[0], "event": None}


def walk(character):
    """One column on; a character that reaches an edge turns back there."""
    character["column"] += character["heading"]
    character["event"] = None
    if character["column"] in SIDES:
        character["heading"] = -character["heading"]
        character["event"] = "turns"


def step(story, rng):
    """The next frame's state, with its chance events drawn from rng."""
    cast = []
    for old in story["cast"]:
        c = dict(old)
        if len(story["cast"]) > 1 and not any(x["event"] == "leaves" for x in cast) and rng.random() < P_LEAVE:
            cast.append({**c, "event": "leaves"})
            continue
        walk(c)
        c["phase"] = (c["phase"] + 1) % len(c["loop"])
        c["action"] = c["loop"][c["phase"]]
        if rng.random() < P_SURPRISE:
            c["action"] = rng.choice([a for a in range(len(ACTIONS)) if a != c["action"]])
        cast.append(c)
    new = {**story, "cast": [c for c in cast if c["event"] != "leaves"], "left": [c for c in cast if c["event"] == "leaves"]}
    free = sorted(set(range(MAX_CAST)) - {c["row"] for c in new["cast"]})
    if free and rng.random() < P_ENTER:
        character = _new_character(rng, new, rng.choice(free), column=rng.choice(sorted(SIDES)))
        character["event"] = "enters"
        new["cast"] = sorted(new["cast"] + [character], key=lambda c: c["row"])
    new["frame"], new["light"] = story["frame"] + 1, (story["light"] + 1) % LIGHT_STEPS
    return new


def first_frame(rng):
    """The state of a story's first frame: its place, landmark, palette, first cast and light."""
    story = {"place": _syllables(rng, 2).capitalize() + rng.choice(PLACE_ENDINGS), "landmark": rng.choice(LANDMARKS),
             "palette": rng.randrange(len(PALETTES)), "frame": 1, "next_id": 0, "cast": [], "left": []}
    for row in sorted(rng.sample(range(MAX_CAST), rng.choice((1, 2, 2, 3)))):
        story["cast"].append(_new_character(rng, story, row))
    story["light"] = rng.randrange(LIGHT_STEPS)
    return story


def _sentence(c):
    name = f"<gdo {c['id']}>{c['name']}</gdo>"
    if c["event"] == "leaves":
        return f"{name} <gda {c['id']}>walks away</gda>."
    if c["event"] == "enters":
        return f"{name} <gda {c['id']}>walks in</gda> from the {SIDES[c['column']]}."
    turn = f" and turns back at the {SIDES[c['column']]} edge" if c["event"] == "turns" else ""
    return f"{name} <gda {c['id']}>{ACTIONS[c['action']]}</gda>{turn}."


def caption(story):
    """The tagged text of a frame's <gdi> segment."""
    lines = []
    if story["frame"] == 1:
        ids = " ".join(c["id"] for c in story["cast"])
        lines.append(f"<gdl bg1>In {story['place']}</gdl>, by <gdl lm1>{story['landmark']}</gdl>, "
                     f"<gdo {ids}>{'they' if len(story['cast']) > 1 else 'one'}</gdo> <gda {ids}>begin</gda>:")
    elif story["light"] == LIGHT_STEPS - 1:
        lines.append(f"<gdl bg1>Night falls over {story['place']}</gdl>.")
    elif story["light"] == 0:
        lines.append(f"<gdl bg1>Morning comes to {story['place']}</gdl>.")
    return " ".join(lines + [_sentence(c) for c in story["left"] + story["cast"]])


def render(story):
    """The frame's picture: the place's palette, darkened by the light, the landmark and each
    character's shape, drawn in its colour at its column and row."""
    dark = story["light"] / (LIGHT_STEPS - 1)
    day_sky, day_ground = PALETTES[story["palette"]]
    sky = tuple(round(d + (n - d) * dark) for d, n in zip(day_sky, NIGHT))
    ground = tuple(round(v * (1 - 0.6 * dark)) for v in day_ground)
    image = Image.new("RGB", (WIDTH, HEIGHT), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, HEIGHT * 0.4, WIDTH, HEIGHT), fill=ground)
    draw.rectangle((WIDTH * 0.46, HEIGHT * 0.15, WIDTH * 0.54, HEIGHT * 0.4), fill=tuple(v // 2 for v in ground))
    cell, r = WIDTH / COLUMNS, RADIUS
    for c in story["cast"]:
        cx, cy = cell * (c["column"] + 0.5), ROW_Y[c["row"]]
        box, fill = (cx - r, cy - r, cx + r, cy + r), COLOURS[c["colour"]]
        if c["shape"] == "circle":
            draw.ellipse(box, fill=fill, outline=(0, 0, 0))
        elif c["shape"] == "square":
            draw.rectangle(box, fill=fill, outline=(0, 0, 0))
        elif c["shape"] == "triangle":
            draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=fill, outline=(0, 0, 0))
        else:
            draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill, outline=(0, 0, 0))
    return image


def encode_png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def record(story):
    """The frame's `## Image N` chain-of-thought section: what the frame shows (who stands where,
    in what colour and shape, doing what), and the setting."""
    rows = "\n".join(f"| {c['id']} | {c['name']} | {c['colour']} | {c['shape']} | {c['row']} | {c['column']} | "
                     f"{'walks in' if c['event'] == 'enters' else ACTIONS[c['action']]} |" for c in story["cast"])
    return (f"## Image {story['frame']}\n\n### Characters\n"
            "| Character ID | Name | Colour | Shape | Row | Column | Action |\n"
            f"|---|---|---|---|---|---|---|\n{rows}\n\n### Setting\n| Setting ID | Name |\n|---|---|\n"
            f"| bg1 | {story['place']} |\n| lm1 | {story['landmark']} |\n| palette | {story['palette']} |\n"
            f"| light | {story['light']} |")


def make_story(rng, story_id):
    """One story as a dict in the StoryReasoning schema (images as PNG bytes)."""
    n_frames = rng.randint(5, 22)
    states = [first_frame(rng)]
    while len(states) < n_frames:
        states.append(step(states[-1], rng))
    return {
        "story_id": story_id,
        "images": [{"bytes": encode_png(render(s)), "path": None} for s in states],
        "frame_count": n_frames,
        "chain_of_thought": "\n\n".join(record(s) for s in states),
        "story": "\n\n".join(f"<gdi image{s['frame']}>\n{caption(s)}\n</gdi>" for s in states),
    }


def stories(n_stories, seed):
    """Yield n_stories synthetic stories, deterministic from seed."""
    rng = random.Random(seed)
    for i in range(n_stories):
        yield make_story(rng, f"synthetic-{seed}-{i:05d}")
