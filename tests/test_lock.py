"""requirements.lock pins every package of the venv, and the venv running the tests matches it:
a drifted install is caught rather than silently used."""
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_PROJECT_VENV = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path):
    """{package: version} from a file of `name==version` lines; other lines are comments."""
    lines = [line.split("#")[0].strip() for line in Path(path).read_text().splitlines()]
    return {canonical(name): version for name, version in (line.split("==") for line in lines if line)}


def test_lock_pins_every_direct_requirement_at_its_version():
    lock, wanted = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements.txt")
    assert {name: lock.get(name) for name in wanted} == wanted


@pytest.mark.skipif(not IN_PROJECT_VENV, reason=f"not run from this project's .venv ({sys.prefix}), so the "
                                                "lock does not describe this environment")
def test_venv_matches_the_lock():
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    lock = pins(ROOT / "requirements.lock")
    drift = {name: (installed.get(name), lock.get(name)) for name in installed.keys() | lock.keys()
             if installed.get(name) != lock.get(name)}
    assert not drift, f"venv vs requirements.lock (installed, locked): {drift}; rerun `make setup` or `make lock`"
