"""Working as a team: a shared git remote (a bare repository) and a shared dvc remote (a
folder); an experiment run in clone A is pushed, pulled into clone B and restored there; B
commits it and registers the model's version (a GTO tag), and `dvc artifacts get` fetches it."""
import json

import pytest

from storyseq.fixtures.project import commit, make_project, run

pytestmark = pytest.mark.slow  # end-to-end dvc runs: `make test-fast` skips them

OUTPUTS = ["models/model.pt", "metrics/scores.json", "dvclive/metrics.json", "dvclive/plots/metrics/val/text.tsv"]


def test_experiment_shared_between_two_clones(tmp_path):
    origin, store = tmp_path / "origin.git", tmp_path / "store"
    run(["git", "init", "-q", "--bare", "--initial-branch=main", str(origin)], tmp_path)
    a = make_project(tmp_path / "a")
    run(["dvc", "remote", "add", "-d", "store", str(store)], a)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "remote"], a)
    run(["git", "remote", "add", "origin", str(origin)], a)
    run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], a)
    b = tmp_path / "b"
    run(["git", "clone", "-q", "-b", "main", str(origin), str(b)], tmp_path)

    run(["dvc", "exp", "run", "-n", "from-a", "-S", "train.lambda_contrastive=0.3"], a)
    run(["dvc", "exp", "push", "origin", "from-a"], a)
    assert "from-a" not in run(["dvc", "exp", "list", "--all-commits"], b).stdout
    run(["dvc", "exp", "pull", "origin", "from-a"], b)

    shown = json.loads(run(["dvc", "exp", "show", "--json"], b).stdout)
    [data] = [exp["revs"][0]["data"] for row in shown for exp in row.get("experiments") or []
              if exp["revs"][0]["name"] == "from-a"]
    assert data["params"]["params.yaml"]["data"]["train"]["lambda_contrastive"] == 0.3
    assert data["metrics"]["metrics/scores.json"]["data"] == json.loads((a / "metrics/scores.json").read_text())

    run(["dvc", "exp", "apply", "from-a"], b)
    run(["dvc", "pull"], b)
    for name in OUTPUTS:
        assert (b / name).read_bytes() == (a / name).read_bytes(), f"{name} differs between the clones"
    assert "up to date" in run(["dvc", "status"], b).stdout

    commit(b, "from-a's results")
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "story-model@v1.0.0", "-m", "from-a"], b)
    run(["git", "push", "-q", "origin", "HEAD:main", "story-model@v1.0.0"], b)
    run(["dvc", "artifacts", "get", str(origin), "story-model", "-o", str(tmp_path / "fetched.pt")], tmp_path)
    assert (tmp_path / "fetched.pt").read_bytes() == (a / "models/model.pt").read_bytes()
