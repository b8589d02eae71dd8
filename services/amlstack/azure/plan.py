"""`amlstack azure plan`: everything deploy will do, written to a folder, Azure untouched."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amlstack.artifact.manifest import ArtifactError
from amlstack.artifact.names import MODEL_JSON
from amlstack.azure import registry_push, specs
from amlstack.azure.deploy import DEPLOY_STEPS, DEPLOYMENT_HEADER
from amlstack.azure.workspace import Workspace
from amlstack.errors import UserError
from amlstack.outputs import output_folder

SOURCE_REPOSITORY = "amlstack/scorer"  # docker-compose.yml's scorer image
TAG_ENV = "AMLSTACK_TAG"
COMPOSE_FILE = "docker-compose.yml"
ENV_LINE = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*[=:](?P<value>.*)$")
DEFAULT_SOURCE_IMAGE = f"{SOURCE_REPOSITORY}:local"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    directory: Path


@dataclass
class Plan:
    workspace: Workspace
    settings: specs.DeploymentSettings
    source_image: str
    artifact: Path | None = None
    canary: int | None = None  # `deploy --canary`: the new slot's share of the traffic
    files: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)


def read_model(directory: Path) -> ModelInfo:
    """Name and version of an artifact the scorer loads (the image tag): verified, its card
    read and its graph checked against it as the scorer will, so no plan, push or deploy goes
    ahead with an artifact whose container would stop at start."""
    from amlstack.artifact.reader import Model

    try:
        model = Model(directory)
        model.check_served_files()
        card = model.card
    except ArtifactError as exc:
        raise UserError(f"{directory}: not a usable amlstack artifact ({exc})") from None
    if not card.name or card.version in (None, ""):
        raise UserError(f"{directory / MODEL_JSON}: needs a name and a version")
    return ModelInfo(card.name, str(card.version), directory)


def default_source_image(env: Mapping[str, str] | None = None, folder: Path | None = None) -> str:
    """The image the local stack builds and tests (`bash scripts/stack.sh compose build scorer`):
    tagged ``${AMLSTACK_TAG:-local}``, which Compose takes from the environment, else from the
    ``.env`` file beside docker-compose.yml (in ``folder``, default the current one, or the
    nearest parent holding it, as Compose finds its file)."""
    env = os.environ if env is None else env
    tag = env.get(TAG_ENV)
    if tag is None:
        project = _compose_project(Path.cwd() if folder is None else folder)
        tag = _env_file_value(project / ".env", TAG_ENV) if project else None
    return f"{SOURCE_REPOSITORY}:{tag or 'local'}"


def _compose_project(folder: Path) -> Path | None:
    folder = folder.resolve()
    return next((f for f in (folder, *folder.parents) if (f / COMPOSE_FILE).is_file()), None)


def _env_file_value(env_file: Path, key: str) -> str | None:
    """``key``'s value in a Compose ``.env`` file, read by its rules: the last ``KEY=value`` (or
    ``export KEY=value``, or ``KEY: value``) line; a quoted value is what is inside the quotes,
    an unquoted one ends at a `` #`` comment. None when the file or the line is absent."""
    try:
        text = env_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    found = None
    for line in text.splitlines():
        match = ENV_LINE.match(line)
        if match and match["key"] == key:
            found = match["value"].strip()
    if found and found[0] in "'\"":
        closing = found.find(found[0], 1)
        return found[1:closing] if closing > 0 else found[1:]
    return re.split(r"\s#", found, maxsplit=1)[0].strip() if found is not None else None


def deploy_commands(plan: Plan) -> list[str]:
    """The steps `amlstack azure deploy` runs, with their `az ml` equivalents for reference.

    Every value is shell-quoted: paths and names come from the user."""
    s, ws = plan.settings, plan.workspace
    q = shlex.quote
    image, source = q(s.image), q(plan.source_image)
    artifact = q(str(plan.artifact)) if plan.artifact else "<artifact>"
    # absolute for push: commands.sh runs in the plan's folder, wherever it was written from
    pushed = q(str(plan.artifact.resolve())) if plan.artifact else "<artifact>"
    az = f"az ml online-endpoint {{}} --name {q(s.endpoint)} {ws.cli_args()}"
    lines = [
        f"# the local image {source} must serve {artifact} (the same MANIFEST.json), or the tag",
        f"# {image} would name another model; build it, from the repository's folder (the",
        "# artifact inside it), with",
        f"# AMLSTACK_MODEL_DIR_BUILD={artifact} bash scripts/stack.sh compose build scorer",
        f"# push checks this, then runs: docker tag {source} {image} && docker push {image}",
        f"amlstack azure push --artifact {pushed} "
        f"--registry {q(registry_push.login_server(s.image))} --source-image {source}",
    ]
    for step, what in DEPLOY_STEPS:
        lines.append(f"# deploy step {step}: {what}")
    lines += [
        az.format("create") + " --file endpoint.yml   # only when the endpoint does not exist",
        f"az ml online-deployment create --file deployment.yml {ws.cli_args()}   # 0% traffic",
        f'curl --fail-with-body -X POST "$SCORING_URI" -H "Authorization: Bearer $KEY" '
        f"-H {q(f'{DEPLOYMENT_HEADER}: {s.deployment}')} -H 'Content-Type: application/json' "
        "-d @sample_input.json",
    ]
    if plan.canary and plan.canary < 100:
        other = next(slot for slot in specs.DEPLOYMENT_SLOTS if slot != s.deployment)
        lines += [
            f"# canary: {s.deployment} takes {plan.canary}%, the other deployments keep their "
            f"proportions of the other {100 - plan.canary}% ({other} alone here); on a new",
            f"# endpoint, with no other deployment yet, {s.deployment} takes all the traffic "
            f"instead (--traffic {s.deployment}=100)",
        ]
        split = f"{s.deployment}={plan.canary} {other}={100 - plan.canary}"
    else:
        split = f"{s.deployment}=100"
    lines.append(az.format("update") + f" --traffic {q(split)}   # only after the smoke test")
    return lines


def write_plan(plan: Plan, out: Path, *, sample_input: Path | None = None) -> Plan:
    """Write image.txt, endpoint.yml, deployment.yml, commands.sh and plan.json under ``out``."""
    output_folder(out)
    s = plan.settings
    files = {
        "endpoint": specs.write_yaml(
            out / "endpoint.yml", specs.endpoint_spec(s.endpoint, model_name=s.model_name)
        ),
        "deployment": specs.write_yaml(out / "deployment.yml", specs.deployment_spec(s)),
    }
    (out / "image.txt").write_text(s.image + "\n")
    files["image"] = out / "image.txt"
    if sample_input is not None and sample_input.is_file():
        files["sample_input"] = Path(shutil.copyfile(sample_input, out / "sample_input.json"))
    plan.commands = deploy_commands(plan)
    # the az commands name the plan's files (endpoint.yml, sample_input.json) from its folder
    # (no `set -e`: the endpoint's create step fails, as it should, on an endpoint that exists)
    script = ["#!/bin/sh", 'cd "$(dirname "$0")" || exit 1', *plan.commands]
    (out / "commands.sh").write_text("\n".join(script) + "\n")
    files["commands"] = out / "commands.sh"
    plan.files.update({k: str(v) for k, v in files.items()})
    (out / "plan.json").write_text(json.dumps(plan_document(plan), indent=2) + "\n")
    plan.files["plan"] = str(out / "plan.json")
    return plan


def plan_document(plan: Plan) -> dict[str, Any]:
    settings = asdict(plan.settings)
    if settings.get("appinsights_connection_string"):
        settings["appinsights_connection_string"] = specs.MASKED
    return {
        "workspace": asdict(plan.workspace),
        "image": plan.settings.image,
        "source_image": plan.source_image,
        "artifact": str(plan.artifact) if plan.artifact else None,
        "settings": settings,
        "steps": [step for step, _ in DEPLOY_STEPS],
        "files": plan.files,
        "commands": plan.commands,
    }
