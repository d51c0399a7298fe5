"""`dvc plots show` holds every declared plot, and its charts render offline."""
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from storyseq.fixtures.project import ROOT, run

TEMPLATE = ROOT / ".dvc/offline_plots.html"


def declared_plots():
    names = []
    for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]:
        names.append(entry if isinstance(entry, str) else next(iter(entry)))
    return names


def is_picture(name):
    """A declared PNG, or a folder of them (plots/windows): dvc shows pictures, not Vega charts."""
    return name.endswith(".png") or (ROOT / name).is_dir()


def show(project, out, *args):
    run(["dvc", "plots", "show", "-o", str(out), *args], project)
    return (out / "index.html").read_text()


def test_plots_show_holds_every_declared_plot(small_project, tmp_path):
    html = show(small_project, tmp_path / "page")
    for name in declared_plots():
        assert (name.replace("plots/", "") if name.endswith(".png") else name) in html, name


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is absent (.ci/run installs it when run as root)")
@pytest.mark.skipif(not TEMPLATE.exists(), reason="no offline template: `make setup` builds it from npm's Vega")
def test_charts_render_offline_in_headless_chromium(small_project, tmp_path):
    html = show(small_project, tmp_path / "page", "--html-template", str(TEMPLATE))
    assert "cdn.jsdelivr" not in html and "<script src=" not in html
    n_charts = len(re.findall(r"vegaEmbed\(", html))
    assert n_charts == sum(not is_picture(name) for name in declared_plots())
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--dump-dom", (tmp_path / "page/index.html").as_uri()],
            capture_output=True, text=True, timeout=120).stdout
    rendered = len(re.findall(r"<canvas|<svg class=\"marks\"", dom))
    assert rendered >= n_charts, f"{rendered} of {n_charts} charts rendered"
