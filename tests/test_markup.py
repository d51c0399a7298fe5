import pytest

from storyseq.data import markup

STORY = """<gdi image2>
<gdo char1 char2>Ann and Bob</gdo> <gda char1>walk</gda>
into <gdl bg1 bg2>the  park</gdl>.
</gdi>
<gdi image1><gdo char1>Ann</gdo> <gda char1>waves</gda>, near <gdl lm1>the tree</gdl>.</gdi>"""


def test_segments_are_ordered_by_image_number_and_span_newlines():
    frames = markup.frame_texts(STORY, 2)
    assert [plain for _, plain in frames] == ["Ann waves, near the tree.", "Ann and Bob walk into the park."]
    assert frames[1][0].startswith("<gdo char1 char2>Ann and Bob</gdo>")


def test_plain_text_strips_every_grounding_tag():
    assert markup.plain_text("<gdo obj3>a  cup</gdo>\n<gda char1 char2>x</gda>") == "a cup x"


@pytest.mark.parametrize("story, n, message", [
    (STORY, 3, "2 <gdi> segments for 3 images"),
    ("<gdi image1>a</gdi><gdi image3>b</gdi>", 2, "image2 is missing"),
    ("<gdi image1>a</gdi><gdi image2> <gdo char1></gdo> </gdi>", 2, "image2 is empty"),
    ("<gdi image1>a</gdi><gdi image1>b</gdi>", 2, "appears twice"),
])
def test_invalid_markup_is_rejected(story, n, message):
    with pytest.raises(ValueError, match=message):
        markup.frame_texts(story, n)
