"""Interruption, remote storage and queued experiments, through the real dvc CLI."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from storyseq.fixtures.project import ROOT, SMALL, commit, env, make_project, run

pytestmark = pytest.mark.slow  # end-to-end dvc runs: `make test-fast` skips them

# Params that make each stage slow enough for a kill to land in the middle of its work.
SLOW = {"embed": {**SMALL, "embed": {**SMALL["embed"], "image_size": 224}},
        "train": {**SMALL, "train": {**SMALL["train"], "epochs": 30}}}


def kill_when(folder, pattern):
    """Start `dvc repro` and SIGKILL it, stage process included, once its output matches. Progress
    lines come every 0.1 s here (tqdm's own setting), not every few seconds as in other logs."""
    proc = subprocess.Popen(["dvc", "repro"], cwd=folder, env={**env(), "TQDM_MININTERVAL": "0.1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    output = b""
    while not re.search(pattern, output):
        chunk = proc.stdout.read1(4096)
        if not chunk:
            raise AssertionError(f"dvc repro ended before {pattern!r}:\n{output.decode()[-3000:]}")
        output += chunk
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def progress(stage):
    """tqdm output of `stage` after at least one step (an epoch, or a batch of images)."""
    return rf"{stage}:\s+\d+%\|[^\r\n]*\|\s*[1-9]\d*/".encode()


@pytest.mark.parametrize("stage, out", [("embed", "data/features"), ("train", "models/model.pt")])
def test_sigkill_mid_stage_then_repro_is_consistent(tmp_path, stage, out):
    folder = make_project(tmp_path, SLOW[stage])
    kill_when(folder, progress(stage))
    assert not (folder / out).exists(), f"the killed {stage} left {out} behind"

    run(["dvc", "repro"], folder)
    assert "up to date" in run(["dvc", "status"], folder).stdout
    lock = yaml.safe_load((folder / "dvc.lock").read_text())
    assert {o["path"] for o in lock["stages"][stage]["outs"]} >= {out}
    assert not list(folder.glob("**/.*.tmp*")), "a temporary file was left behind"


def test_make_restore_after_a_failed_experiment(small_project, tmp_path):
    """An experiment applied, then one that fails in window: `make restore` brings back HEAD."""
    folder = tmp_path / "project"
    shutil.copytree(small_project, folder, symlinks=True)
    commit(folder, "results")
    run(["dvc", "exp", "run", "-n", "lam", "-S", "train.lambda_contrastive=0.3"], folder)
    run(["dvc", "exp", "apply", "lam"], folder)
    failed = run(["dvc", "exp", "run", "-S", "window.k=25"], folder, check=False)
    assert failed.returncode != 0 and not (folder / "data/windows.parquet").exists()

    run(["make", "-f", str(ROOT / "Makefile"), "restore"], folder)
    for name in run(["git", "ls-files"], folder).stdout.splitlines():
        head = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=folder, capture_output=True, check=True).stdout
        assert (folder / name).read_bytes() == head, f"{name} differs from HEAD after make restore"
    assert "up to date" in run(["dvc", "status"], folder).stdout


def test_push_then_pull_into_a_fresh_clone(small_project, tmp_path):
    folder = tmp_path / "origin"
    shutil.copytree(small_project, folder, symlinks=True)
    run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "store")], folder)
    commit(folder, "results")
    run(["dvc", "push"], folder)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(folder), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert "up to date" in run(["dvc", "status"], clone).stdout
    assert "Running stage" not in run(["dvc", "repro"], clone).stdout
    for name in ("metrics/scores.json", "dvclive/metrics.json", "metrics/data.json"):
        assert (clone / name).read_text() == (folder / name).read_text()
    assert (clone / "models/model.pt").read_bytes() == (folder / "models/model.pt").read_bytes()


def test_queued_lambda_sweep_runs_in_parallel(tmp_path, monkeypatch):
    folder = make_project(tmp_path)
    run(["dvc", "repro"], folder)
    commit(folder, "baseline")
    lambdas = ["0.1", "0.3"]  # one round of two workers: enough to show they run side by side
    for value in lambdas:
        run(["dvc", "exp", "run", "--queue", "-S", f"train.lambda_contrastive={value}"], folder)
    run(["dvc", "queue", "start", "-j", "2"], folder)
    deadline = time.monotonic() + 600
    while re.search(r"\b(Queued|Running)\b", status := run(["dvc", "queue", "status"], folder).stdout):
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert status.count("Success") == len(lambdas), status

    shown = json.loads(run(["dvc", "exp", "show", "--json"], folder).stdout)
    experiments = [exp for row in shown for exp in row.get("experiments") or []]
    found = {}
    for exp in experiments:
        data = exp["revs"][0]["data"]
        lam = data["params"]["params.yaml"]["data"]["train"]["lambda_contrastive"]
        found[str(lam)] = data["metrics"]["metrics/scores.json"]["data"]["bleu"]
    assert sorted(found) == lambdas
    table = run(["dvc", "exp", "show", "--no-pager", "--csv"], folder).stdout
    assert "train.lambda_contrastive" in table and "bleu" in table.splitlines()[0].split(",")

    # README's side-by-side command shows, in 160 columns, the changed param and the five scores
    command = next(line.strip() for line in (ROOT / "README.md").read_text().splitlines()
                   if line.strip().startswith("dvc exp show --no-pager"))
    monkeypatch.setenv("COLUMNS", "160")
    shown = run(shlex.split(command), folder).stdout.splitlines()
    header = shown[1].split()
    assert {"train.lambda_contrastive", "bleu", "rouge_l", "meteor", "character_f1", "image_mse"} <= set(header), shown[1]
    assert all(len(line) <= 160 for line in shown) and "…" not in "\n".join(shown), "\n".join(shown)
