"""Install the WordNet corpus that nltk's METEOR needs into this venv's nltk_data.

nltk's downloader is tried first. Offline, Debian's wordnet-base and wordnet-sense-index
packages provide the WordNet 3.0 files (nltk's reader opens index.sense too). They are
installed with apt-get when running as root, quietly and without their recommends (the
`wordnet` browser and its GUI), then copied (nltk refuses symlinks), and the `lexnames` file
that Debian lacks is written."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nltk

DEBIAN = Path("/usr/share/wordnet")
PACKAGES = "wordnet-base wordnet-sense-index"
TARGET = Path(sys.prefix) / "nltk_data" / "corpora" / "wordnet"
LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
            "adj.ppl").split()
POS_NUMBER = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def works():
    try:
        from nltk.corpus import wordnet
        wordnet.ensure_loaded()
        return bool(wordnet.synsets("dog"))
    except LookupError:
        return False


def from_debian():
    if not DEBIAN.is_dir():
        if os.geteuid() != 0:
            sys.exit("setup: WordNet is missing; run as root, or "
                     f"`apt-get install --no-install-recommends {PACKAGES}`")
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "Dpkg::Use-Pty=0",
                        *PACKAGES.split()], check=True, env=quiet)
    TARGET.mkdir(parents=True, exist_ok=True)
    for f in DEBIAN.iterdir():
        if f.is_file():
            shutil.copyfile(f, TARGET / f.name)
    (TARGET / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{POS_NUMBER[name.split('.')[0]]}\n"
                                             for i, name in enumerate(LEXNAMES)))


if __name__ == "__main__":
    if not works() and not nltk.download("wordnet", download_dir=str(TARGET.parent.parent), quiet=True):
        from_debian()
    nltk.data.path.insert(0, str(TARGET.parent.parent))
    if not works():
        sys.exit(f"setup: WordNet at {TARGET} does not load")
    print(f"setup: WordNet ready for nltk in {TARGET.parent.parent}")
