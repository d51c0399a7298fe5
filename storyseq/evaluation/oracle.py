"""The `oracle` system of the synthetic benchmark: the most probable frame K+1 given frames 1..K.

It reads what frames 1..K show, as their `## Image N` chain-of-thought sections record it (who
stands where, in what colour, doing what), and knows the generator's rules (storyseq/data/synthetic.py):
- each character walks on one column and turns back at an edge: frame K's column and the
  heading from frame K-1 to K give where it will be and whether it turns;
- each character repeats a loop of LOOP_LENGTHS actions (each length and every ordered loop
  equally likely), doing a random other action with chance P_SURPRISE: the action the oracle
  gives is the mode of the posterior predictive over all loops, given the actions seen;
- the sky darkens one step a frame: frame K's shade says whether night falls or morning comes;
- leaving and entering are less likely than not: nobody leaves or enters.
Caption and picture are of that one most probable state: the mode, not the conditional mean
that would minimise image MSE, nor a caption tuned to BLEU. It never sees frame K+1."""
import itertools
import re

import numpy as np

from storyseq.data import synthetic
from storyseq.data.markup import SECTION, plain_text
from storyseq.embedding.features import decode_images

ROW = re.compile(r"^\|(.+)\|\s*$", re.MULTILINE)
LOOPS = {p: np.array(list(itertools.permutations(range(len(synthetic.ACTIONS)), p))) for p in synthetic.LOOP_LENGTHS}


def parse(section):
    """What a frame shows, from its section: {"frame", "place", "landmark", "palette", "cast"}, or
    None when the section is not the synthetic generator's record (real data, another source)."""
    number = SECTION.search(section or "")
    if number is None or "| Column | Action |" not in section:
        return None
    cells = [[cell.strip() for cell in row.split("|")] for row in ROW.findall(section)]
    setting = {c[0]: c[1] for c in cells if len(c) == 2}
    cast = [{"id": cid, "name": name, "colour": colour, "shape": shape, "row": int(row), "column": int(column),
             "action": synthetic.ACTIONS.index(action) if action in synthetic.ACTIONS else None}
            for cid, name, colour, shape, row, column, action in (c for c in cells if c[0].startswith("char"))]
    return {"frame": int(number.group(1)), "place": setting["bg1"], "landmark": setting["lm1"],
            "palette": int(setting["palette"]), "light": int(setting["light"]), "cast": cast}


def likeliest_action(seen):
    """The most probable next action of a character whose actions were `seen` {frames before the
    next one: action index}, under the generator's loops and surprises."""
    n, s = len(synthetic.ACTIONS), synthetic.P_SURPRISE
    predictive = np.zeros(n)
    for period, loops in LOOPS.items():
        likelihood = np.full(len(loops), 1 / len(loops))
        for back, action in seen.items():
            likelihood *= np.where(loops[:, -back % period] == action, 1 - s, s / (n - 1))
        due = np.bincount(loops[:, 0], weights=likelihood, minlength=n)  # slot 0: the next frame's
        predictive += (1 - s) * due + s / (n - 1) * (likelihood.sum() - due)
    return int(predictive.argmax())


def next_state(frames):
    """The most probable state of the frame after the given ones (parsed sections, in order)."""
    last = frames[-1]
    cast = []
    for c in last["cast"]:
        before = [x["column"] for f in frames[:-1] for x in f["cast"] if x["id"] == c["id"]]
        heading = synthetic.INWARD.get(c["column"]) or c["column"] - before[-1]
        seen = {len(frames) - i: x["action"] for i, f in enumerate(frames) for x in f["cast"]
                if x["id"] == c["id"] and x["action"] is not None}
        following = {**c, "heading": heading}
        synthetic.walk(following)
        cast.append({**following, "action": likeliest_action(seen)})
    return {**last, "frame": last["frame"] + 1, "light": (last["light"] + 1) % synthetic.LIGHT_STEPS, "cast": cast,
            "left": []}


def next_frame(sections):
    """(tagged caption, PIL picture) of the most probable frame after the frames whose sections
    are given, or None when they hold no generator record."""
    frames = [parse(section) for section in sections]
    if any(frame is None for frame in frames):
        return None
    state = next_state(frames)
    return synthetic.caption(state), synthetic.render(state)


def predictions(window_sections, target_size):
    """(pictures (W, 3, T, T) in [0, 1], plain captions) of the oracle for windows given as the
    sections of their frames 1..K, or None unless every section holds the generator's record."""
    frames = [next_frame(sections) for sections in window_sections]
    if not frames or any(frame is None for frame in frames):
        return None
    pictures = decode_images([synthetic.encode_png(picture) for _, picture in frames], target_size, target_size)[1]
    return pictures.float() / 255, [plain_text(caption) for caption, _ in frames]
