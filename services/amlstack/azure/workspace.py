"""Which Azure ML workspace to use: options, then environment variables, then config.json."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from amlstack.errors import UserError

SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"
RESOURCE_GROUP_ENV = "AZURE_RESOURCE_GROUP"
WORKSPACE_ENV = "AZUREML_WORKSPACE_NAME"
# Where Azure ML's "Download config.json" file is usually saved.
CONFIG_CANDIDATES = ("config.json", ".azureml/config.json")


@dataclass(frozen=True)
class Workspace:
    subscription_id: str
    resource_group: str
    workspace_name: str

    def cli_args(self) -> str:
        """The `az ml` arguments that address this workspace."""
        return (
            f"--subscription {self.subscription_id} --resource-group {self.resource_group} "
            f"--workspace-name {self.workspace_name}"
        )


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
        "subscription_id": str(doc.get("subscription_id", "")),
        "resource_group": str(doc.get("resource_group", doc.get("resourceGroup", ""))),
        "workspace_name": str(doc.get("workspace_name", doc.get("workspaceName", ""))),
    }


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
    from_file = _config_fields(config, cwd or Path.cwd())
    fields = {
        "subscription_id": subscription_id
        or env.get(SUBSCRIPTION_ENV)
        or from_file.get("subscription_id"),
        "resource_group": resource_group
        or env.get(RESOURCE_GROUP_ENV)
        or from_file.get("resource_group"),
        "workspace_name": workspace_name
        or env.get(WORKSPACE_ENV)
        or from_file.get("workspace_name"),
    }
    missing = [name for name, value in fields.items() if not value]
    if missing:
        hints = {
            "subscription_id": f"--subscription-id or {SUBSCRIPTION_ENV}",
            "resource_group": f"--resource-group or {RESOURCE_GROUP_ENV}",
            "workspace_name": f"--workspace or {WORKSPACE_ENV}",
        }
        raise UserError(
            "no Azure ML workspace: set "
            + ", ".join(hints[m] for m in missing)
            + " (or pass --config with the config.json downloaded from the workspace)"
        )
    return Workspace(**fields)


def _config_fields(config: Path | None, cwd: Path) -> dict[str, str]:
    if config is not None:
        return read_config(config)
    for candidate in CONFIG_CANDIDATES:
        if (cwd / candidate).is_file():
            return read_config(cwd / candidate)
    return {}
