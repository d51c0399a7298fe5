"""Progress bars that read well in a log: tqdm's live bar in a terminal; elsewhere (dvc's
piped output, `dvc queue logs`, CI) one plain newline-ended line at most every LOG_INTERVAL
seconds, with no carriage returns. A TQDM_MININTERVAL environment variable still wins."""
import os
import sys

from tqdm import tqdm as _tqdm

LOG_INTERVAL = 5.0


class _Lines:
    """A text stream for tqdm that turns each in-place redraw into one line."""

    def __init__(self, stream):
        self.stream, self.encoding = stream, getattr(stream, "encoding", "utf-8")

    def write(self, text):
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self):
        self.stream.flush()


class tqdm(_tqdm):
    """tqdm, with log-friendly output when stderr is not a terminal."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("file") is None and not sys.stderr.isatty():
            kwargs["file"] = _Lines(sys.stderr)
            if "TQDM_MININTERVAL" not in os.environ:
                kwargs.setdefault("mininterval", LOG_INTERVAL)
        super().__init__(*args, **kwargs)
