"""StoryReasoning story markup: one `<gdi imageN>` segment per frame, with `<gdo>`, `<gda>`
and `<gdl>` grounding tags inside it."""
import re

SEGMENT = re.compile(r"<gdi image(\d+)>(.*?)</gdi>", re.DOTALL)
GROUNDING_TAG = re.compile(r"</?gd[a-z]\b[^>]*>")
SECTION = re.compile(r"^## Image (\d+)\s*$", re.MULTILINE)  # a frame's section of the chain of thought
NAME_TAG = re.compile(r"<gdo\s+(char\d+)\s*>(.*?)</gd[a-z]>", re.DOTALL)  # one character's name; closing tags can be mismatched


def plain_text(tagged):
    """The frame text: every `<gd.>` tag removed and whitespace collapsed."""
    return " ".join(GROUNDING_TAG.sub("", tagged).split())


def segments(story):
    """Map image number -> tagged text of its `<gdi imageN>` segment (stripped)."""
    found = {}
    for match in SEGMENT.finditer(story):
        number = int(match.group(1))
        if number in found:
            raise ValueError(f"segment image{number} appears twice")
        found[number] = match.group(2).strip()
    return found


def frame_texts(story, n_images):
    """The (tagged, plain) text of frames 1..n_images, ordered by N.

    Raises ValueError when the segment count differs from the image count, or a segment
    is missing or empty; these are the dataset's own validity rules."""
    found = segments(story)
    if len(found) != n_images:
        raise ValueError(f"{len(found)} <gdi> segments for {n_images} images")
    frames = []
    for number in range(1, n_images + 1):
        if number not in found:
            raise ValueError(f"segment image{number} is missing")
        text = plain_text(found[number])
        if not text:
            raise ValueError(f"segment image{number} is empty")
        frames.append((found[number], text))
    return frames


def sections(chain_of_thought, n_images):
    """The `## Image N` section of the chain of thought for each of frames 1..n_images ('' where
    there is none)."""
    text = chain_of_thought or ""
    starts = list(SECTION.finditer(text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    found = {int(m.group(1)): text[m.start():end].strip() for m, end in zip(starts, ends)}
    return [found.get(n, "") for n in range(1, n_images + 1)]
