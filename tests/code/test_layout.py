"""The layout's floors hold (README, "Layout"): each module imports only from its own floor or
the ones below, the artifact contract stands on nothing, training and serving never meet but
there, and there are no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = (REPO / "services", REPO / "scorer")
# Bottom first. A package name stands for itself and everything under it.
FLOORS = (
    ("amlstack", "amlstack.artifact", "amlstack.errors"),  # the contract; errors; __version__
    ("amlstack.training", "amlstack_scorer"),  # beside each other (test below)
    ("amlstack.predict", "amlstack.spark_predict", "amlstack.k8s"),
    ("amlstack.azure",),
    ("amlstack.pipeline",),
    ("amlstack.commands", "amlstack.cli"),
)


def _modules() -> dict[str, Path]:
    found = {}
    for root in ROOTS:
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[0] not in ("amlstack", "amlstack_scorer"):
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every project module ``path`` imports, at any depth (function-level imports too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out.update(n for n in names if n in known)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def _floor(module: str) -> int:
    """The floor of ``module``: its longest package prefix in FLOORS."""
    found = [
        (len(name), level)
        for level, names in enumerate(FLOORS)
        for name in names
        if module == name or module.startswith(name + ".")
    ]
    assert found, f"{module} is on no floor: add it to FLOORS (and the README's layout)"
    return max(found)[1]


def test_every_module_imports_only_its_own_floor_or_below():
    graph = _graph()
    upward = sorted((m, d) for m, deps in graph.items() for d in deps if _floor(d) > _floor(m))
    assert upward == []


def test_the_ui_uses_only_the_drift_computation_and_the_file_reading_of_the_code():
    """The UI is a client of the scorer over HTTP; it shares only the drift math (same PSI) and
    how a user's file and cells are read (delimiters, header names, text encoding, number
    formats): an upload reads as training reads it."""
    found = set()
    for path in (REPO / "frontend" / "amlstack_ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").split(".")[0] in ("amlstack", "amlstack_scorer")
            ):
                found.add(node.module)
    shared = {
        "amlstack.pipeline.drift",
        "amlstack_scorer.drift",
        "amlstack.artifact.delimiters",
        "amlstack.artifact.charset",
        "amlstack.artifact.formats",
        "amlstack.artifact.scored",
    }
    assert found <= shared


def test_the_artifact_contract_imports_nothing_above_it():
    graph = _graph()
    contract = {m for m in graph if m.startswith("amlstack.artifact")}
    above = {m: sorted(graph[m] - contract - {"amlstack"}) for m in contract}
    assert {m: deps for m, deps in above.items() if deps} == {}


def test_training_and_serving_stand_beside_each_other():
    graph = _graph()
    training = [m for m in graph if m.startswith("amlstack.training")]
    serving = [m for m in graph if m.startswith("amlstack_scorer")]
    assert not [(m, d) for m in training for d in graph[m] if d.startswith("amlstack_scorer")]
    assert not [(m, d) for m in serving for d in graph[m] if d.startswith("amlstack.training")]


def test_no_import_circles_in_the_scorer_or_the_contract():
    graph = _graph()
    scope = [m for m in graph if m.startswith(("amlstack_scorer", "amlstack.artifact"))]
    circles = []
    for start in scope:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for dep in graph[node]:
                if dep == start:
                    circles.append(path)
                elif dep not in seen and dep in scope:
                    seen.add(dep)
                    stack.append((dep, (*path, dep)))
    assert circles == []


def test_every_typer_command_lives_under_commands():
    """The CLI is one folder: typer appears in amlstack/commands/ and the entry point only."""
    using = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found = any(a.name.split(".")[0] == "typer" for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                found = (node.module or "").split(".")[0] == "typer"
            else:
                continue
            if found:
                using.add(name)
    assert sorted(m for m in using if not m.startswith("amlstack.commands")) == ["amlstack.cli"]
