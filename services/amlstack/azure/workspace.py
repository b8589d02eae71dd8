"""Which Azure ML workspace to use: options, then environment variables, then config.json."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from amlstack.azure import specs
from amlstack.errors import UserError

SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"
RESOURCE_GROUP_ENV = "AZURE_RESOURCE_GROUP"
WORKSPACE_ENV = "AZUREML_WORKSPACE_NAME"
# Which of Azure's naming rules (specs.NAME_RULES) each field follows.
RULE_OF_FIELD = {
    "subscription_id": "subscription",
    "resource_group": "resource group",
    "workspace_name": "workspace",
}
# Where Azure ML's "Download config.json" file is usually saved.
CONFIG_CANDIDATES = ("config.json", ".azureml/config.json")


@dataclass(frozen=True)
class Workspace:
    subscription_id: str
    resource_group: str
    workspace_name: str

    def cli_args(self) -> str:
        """The `az ml` arguments that address this workspace, quoted for a shell."""
        return shlex.join(
            ["--subscription", self.subscription_id, "--resource-group", self.resource_group,
             "--workspace-name", self.workspace_name]
        )  # fmt: skip


def read_config(path: Path) -> dict[str, str]:
    """The workspace fields of an Azure ML config.json."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: workspace config file not found") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable Azure ML config.json ({exc})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: an Azure ML config.json must hold a JSON object")
    # Older files spell the group and workspace with a capital letter.
    return {
        "subscription_id": _field(doc, "subscription_id"),
        "resource_group": _field(doc, "resource_group", "resourceGroup"),
        "workspace_name": _field(doc, "workspace_name", "workspaceName"),
    }


def _field(doc: dict, *keys: str) -> str:
    """The first of ``keys`` that holds a value; a null one is not set (not the name 'None')."""
    for key in keys:
        if doc.get(key) not in (None, ""):
            return str(doc[key])
    return ""


def resolve_workspace(
    *,
    config: Path | None = None,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    workspace_name: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Workspace:
    """Merge the sources, each field taken from the first that sets it; UserError if incomplete."""
    env = os.environ if env is None else env
    from_file, file_label = _config_fields(config, cwd or Path.cwd())
    given = {
        "subscription_id": (subscription_id, "--subscription-id", SUBSCRIPTION_ENV),
        "resource_group": (resource_group, "--resource-group", RESOURCE_GROUP_ENV),
        "workspace_name": (workspace_name, "--workspace", WORKSPACE_ENV),
    }
    fields: dict[str, str] = {}
    sources: dict[str, str] = {}
    for field, (value, option, variable) in given.items():
        for candidate, source in (
            (value, option),
            (env.get(variable), variable),
            (from_file.get(field), f"{file_label} {field}"),
        ):
            if candidate:
                fields[field], sources[field] = candidate, source
                break
    missing = [name for name in given if name not in fields]
    if missing:
        raise UserError(
            "no Azure ML workspace: set "
            + ", ".join(f"{given[m][1]} or {given[m][2]}" for m in missing)
            + " (or pass --config with the config.json downloaded from the workspace)"
        )
    for field, kind in RULE_OF_FIELD.items():
        specs.check_name(fields[field], kind, source=sources[field])
    return Workspace(**fields)


def _config_fields(config: Path | None, cwd: Path) -> tuple[dict[str, str], str]:
    """The config file's fields and its name (for messages)."""
    if config is not None:
        return read_config(config), str(config)
    for candidate in CONFIG_CANDIDATES:
        if (cwd / candidate).is_file():
            return read_config(cwd / candidate), str(cwd / candidate)
    return {}, ""
