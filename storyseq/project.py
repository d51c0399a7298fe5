"""Throwaway copies of this project, for the tests and the benchmark: small params, a fresh
git repository holding the project's code and pipeline, and commands run in it offline."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["stages", "storyseq", "dvc.yaml", "params.yaml", ".dvc/config", ".dvc/.gitignore", ".dvc/plots",
                 ".dvcignore", ".gitignore"]

SMALL = {
    "data": {"n_stories": 24},
    "embed": {"image_encoder": "test_tiny_cnn", "text_encoder": "test_tiny_bert", "image_size": 32,
              "target_size": 16, "max_tokens": 40, "batch_size": 16},
    "model": {"embed_dim": 32, "hidden_dim": 32, "image_channels": 16, "token_dim": 16},
    "train": {"epochs": 2, "batch_size": 16},
    "evaluate": {"max_new_tokens": 40, "coco": False},  # the COCO report's two JVMs: only in small_project
    "plot": {"n_examples": 2},
}


def env():
    """The environment for stage and dvc subprocesses: this venv first on PATH, no network."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "DVC_NO_ANALYTICS": "1"}


def run(args, cwd, check=True):
    """Run a command; return the CompletedProcess with stdout and stderr as text."""
    result = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def update_params(folder, changes):
    """Merge {section: {key: value}} into folder/params.yaml."""
    path = Path(folder) / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in changes.items():
        params[section].update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_project(folder, changes=SMALL):
    """A fresh git repository holding this project with small params, ready for `dvc repro`."""
    folder = Path(folder)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / name)
    update_params(folder, changes)
    run(["git", "init", "-q"], folder)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", "--allow-empty"], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "project"], folder)
    return folder


def commit(folder, message):
    run(["git", "add", "-A"], folder)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], folder)


def ran_stages(output):
    """The stage names that `dvc repro` ran, from its output."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}
