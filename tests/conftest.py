"""Shared fixtures: the small project after one full `dvc repro`, and the slow marker."""
import pytest

from storyseq.fixtures.project import SMALL, make_project, run

SLOW_FIXTURES = {"small_project", "hub"}  # fixtures that run dvc or write the stand-in


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs dvc or stage subprocesses end to end; `make test-fast` skips it")


def pytest_collection_modifyitems(items):
    """Every test that uses an end-to-end fixture is slow too."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_project(tmp_path_factory):
    """A small project after one full `dvc repro`, shared by read-only tests."""
    with_coco = {**SMALL, "evaluate": {**SMALL["evaluate"], "coco": True}}
    folder = make_project(tmp_path_factory.mktemp("project"), with_coco)
    run(["dvc", "repro"], folder)
    return folder
