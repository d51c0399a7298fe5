"""Progress output: a live bar in a terminal, plain newline-ended lines in a log."""
import io
import re

import pytest

from storyseq.core import progress
from storyseq.fixtures.project import make_project, run


class Terminal(io.StringIO):
    def isatty(self):
        return True


def bar_output(stream, monkeypatch):
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    for _ in progress.tqdm(range(50), desc="work", mininterval=0):
        pass
    return stream.getvalue()


def test_live_bar_in_a_terminal(monkeypatch):
    assert bar_output(Terminal(), monkeypatch).count("\r") > 10


def test_plain_lines_in_a_log(monkeypatch):
    lines = bar_output(io.StringIO(), monkeypatch).split("\n")
    assert "\r" not in "".join(lines) and lines[-1] == ""
    assert lines[0].startswith("work:   0%") and lines[-2].startswith("work: 100%") and "50/50" in lines[-2]


@pytest.mark.slow
def test_repro_log_has_short_plain_lines(tmp_path):
    result = run(["dvc", "repro"], make_project(tmp_path))
    log = result.stdout + result.stderr
    assert "\r" not in log, "a carriage return in the dvc repro log"
    longest = max(log.split("\n"), key=len)
    assert len(longest) <= 500, f"a {len(longest)}-character line: {longest[:200]}..."
    for stage, unit in {"fetch": "story", "window": "batch", "embed": "img", "train": "epoch"}.items():
        assert re.search(rf"^{stage}: .*{unit}", log, re.M), f"no progress line from {stage}"
