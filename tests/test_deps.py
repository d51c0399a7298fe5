"""dvc.yaml's code deps are the modules each stage imports: a module missing from a stage's deps
would let a code change leave a stale result, and an extra one reruns the stage for nothing."""
import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "storyseq"


def imported_modules(path):
    """The project modules (files under ROOT) that the file at `path` imports, directly or not."""
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        for node in ast.walk(ast.parse(current.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE]
            for name in names:
                module = ROOT / (name.replace(".", "/") + ".py")
                if module.exists() and module not in seen:
                    seen.add(module)
                    todo.append(module)
    return {str(m.relative_to(ROOT)) for m in seen}


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stages_code_deps_are_the_modules_it_imports(stage):
    script = f"stages/{stage}.py"
    declared = {d for d in STAGES[stage]["deps"] if d.endswith(".py")}
    imported = imported_modules(ROOT / script) | {script}
    assert sorted(imported - declared) == [], f"{stage}: imported but not in dvc.yaml's deps"
    assert sorted(declared - imported) == [], f"{stage}: in dvc.yaml's deps but not imported"


def test_the_check_sees_a_missing_dep():
    """Deleting one module from a stage's deps is caught: the check above would fail."""
    declared = {d for d in STAGES["train"]["deps"] if d.endswith(".py")} - {"storyseq/model/story_model.py"}
    assert imported_modules(ROOT / "stages/train.py") | {"stages/train.py"} != declared


def test_sub_package_inits_hold_only_a_docstring():
    """Importing a module runs its package's __init__.py, which no stage lists in its deps: so they
    hold no code."""
    for init in (ROOT / PACKAGE).rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        assert all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body), init
