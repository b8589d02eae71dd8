"""Push then deploy in one go: a failed push never reaches Azure ML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amlstack.azure import deploy, registry_push
from amlstack.azure.specs import DeploymentSettings
from amlstack.azure.workspace import Workspace


def release(
    clients: Any,
    workspace: Workspace,
    settings: DeploymentSettings,
    sample_rows: list[dict[str, Any]],
    *,
    source_image: str | None,
    use_azure_credential: bool,
    artifact: Path | None = None,
    canary: int | None = None,
    slot: str | None = None,
    progress: deploy.Progress = deploy._quiet,
) -> deploy.DeployResult:
    """Push ``source_image`` as ``settings.image`` (None: it is there already), then deploy."""
    if source_image is not None:
        progress("push", f"pushing {settings.image}")
        registry_push.push(
            clients,
            source_image,
            settings.image,
            use_azure_credential=use_azure_credential,
            artifact=artifact,
            progress=lambda line: progress("push", line),
        )
    return deploy.deploy(
        clients.ml_client(workspace),
        clients.http(),
        settings,
        sample_rows,
        canary=canary,
        slot=slot,
        progress=progress,
    )
