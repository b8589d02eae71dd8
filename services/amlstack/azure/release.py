"""Push then deploy in one go: a failed push never reaches Azure ML.

The one place where an artifact becomes deployment settings (the image tag names the model and
its version, `specs.image_tag`), used by `amlstack azure plan/deploy` and by the pipeline's
deploy stage alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amlstack.azure import deploy, registry_push, specs
from amlstack.azure.specs import DeploymentSettings
from amlstack.azure.workspace import Workspace
from amlstack.errors import UserError

REGISTRY_ENV = "AZURE_CONTAINER_REGISTRY"
ENDPOINT_ENV = "AMLSTACK_AZURE_ENDPOINT"


def require_registry(registry: str | None) -> str:
    if not registry:
        raise UserError(f"no container registry: pass --registry <acr name> or set {REGISTRY_ENV}")
    return specs.check_name(registry, "registry", source=f"--registry (or {REGISTRY_ENV})")


def endpoint_name(endpoint: str | None, model_name: str) -> str:
    if endpoint:
        return specs.check_name(endpoint, "endpoint")
    return specs.default_endpoint_name(model_name)


def deployment_settings(
    artifact: Path,
    registry: str | None,
    *,
    repository: str = specs.DEFAULT_REPOSITORY,
    endpoint: str | None = None,
    instance_type: str = specs.DEFAULT_INSTANCE_TYPE,
    instance_count: int = specs.DEFAULT_INSTANCE_COUNT,
    appinsights: str | None = None,
) -> tuple[Any, DeploymentSettings]:
    """The artifact's ModelInfo and what deploying it means; UserError without a registry."""
    from amlstack.azure.plan import read_model

    model = read_model(artifact)
    registry = require_registry(registry)
    settings = DeploymentSettings(
        endpoint=endpoint_name(endpoint, model.name),
        deployment=specs.DEPLOYMENT_SLOTS[0],
        image=specs.image_ref(registry, repository, model.name, model.version),
        instance_type=instance_type,
        instance_count=instance_count,
        appinsights_connection_string=appinsights,
        model_name=model.name,
        model_version=model.version,
        endpoint_given=bool(endpoint),
    )
    return model, settings


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
