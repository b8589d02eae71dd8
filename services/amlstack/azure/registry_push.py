"""Tag the local scorer image for Azure Container Registry and push it with the Docker SDK."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from amlstack.artifact.names import MANIFEST
from amlstack.azure.failures import azure_call
from amlstack.errors import ExternalError, UserError
from amlstack_scorer import contract

# ACR's fixed user name for a refresh token obtained by token exchange.
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"  # noqa: S105 - a user name


def login_server(image: str) -> str:
    return image.split("/", 1)[0]


def split_ref(image: str) -> tuple[str, str]:
    """``server/repo:tag`` -> (``server/repo``, ``tag``)."""
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        raise UserError(f"{image}: image reference needs a tag (<registry>/<repo>:<tag>)")
    return repository, tag


def docker_config_has_login(server: str, env: Mapping[str, str] | None = None) -> bool:
    """True when docker's config holds credentials for ``server`` (e.g. after `az acr login`)."""
    env = os.environ if env is None else env
    config_dir = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        doc = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return False
    auths = doc.get("auths") or {}
    helpers = doc.get("credHelpers") or {}
    return server in auths or server in helpers or bool(doc.get("credsStore") and server in auths)


def acr_auth(clients: Any, server: str, use_azure_credential: bool) -> dict[str, str] | None:
    """Docker auth for ACR: an exchanged refresh token, or None to use docker's own config."""
    if not use_azure_credential:
        return None
    with azure_call(f"registry {server}"):
        token = clients.acr_refresh_token(server)
    return {"username": ACR_TOKEN_USER, "password": token}


def baked_manifest(docker: Any, image: Any, source: str) -> str:
    """The MANIFEST.json of the artifact baked into the image (at its AMLSTACK_MODEL_DIR)."""
    env = dict(
        item.split("=", 1)
        for item in (image.attrs.get("Config") or {}).get("Env") or []
        if "=" in item
    )
    model_dir = env.get(contract.MODEL_DIR_ENV)
    if not model_dir:
        raise UserError(f"image {source} sets no {contract.MODEL_DIR_ENV}; not an amlstack scorer")
    output = docker.containers.run(
        source,
        command=[f"{model_dir}/{MANIFEST}"],
        entrypoint=["cat"],
        remove=True,
        network_disabled=True,
    )
    return output.decode() if isinstance(output, bytes) else str(output)


def check_same_model(docker: Any, image: Any, source: str, artifact: Path) -> None:
    """Refuse to push an image that serves another model than ``artifact`` (the tag would lie)."""
    inside = json.loads(baked_manifest(docker, image, source)).get("files")
    expected = json.loads((artifact / MANIFEST).read_text()).get("files")
    if inside != expected:
        raise UserError(
            f"image {source} does not serve the artifact {artifact}; rebuild it with "
            f"AMLSTACK_MODEL_DIR_BUILD={artifact} bash scripts/stack.sh compose build scorer "
            "or pass the right --source-image"
        )


def local_image(docker: Any, source: str) -> Any:
    """The local image ``source``; UserError when it was never built."""
    from docker.errors import ImageNotFound

    try:
        return docker.images.get(source)
    except ImageNotFound:
        raise UserError(
            f"local image {source} not found; build it first "
            "(bash scripts/stack.sh compose build scorer) or pass --source-image"
        ) from None


def verify_source(docker: Any, source: str, artifact: Path) -> None:
    """What push checks before tagging, with the local Docker engine only (no registry, no
    Azure), so a dry run can check it too: ``source`` exists and serves ``artifact``."""
    with azure_call("docker"):
        check_same_model(docker, local_image(docker, source), source, artifact)


def push(
    clients: Any,
    source: str,
    target: str,
    *,
    use_azure_credential: bool,
    artifact: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> str:
    """Tag ``source`` as ``target`` and push it; returns the pushed digest (or the tag).

    With ``artifact``, the image must serve exactly that artifact (same MANIFEST.json).
    """
    docker = clients.docker()
    repository, tag = split_ref(target)
    server = login_server(target)
    with azure_call("docker"):
        image = local_image(docker, source)
        if artifact is not None:
            progress(f"checking that {source} serves {artifact}")
            check_same_model(docker, image, source, artifact)
        image.tag(repository, tag=tag)
    auth = acr_auth(clients, server, use_azure_credential)
    progress(f"pushing {target}")
    digest = ""
    with azure_call(f"push {target}"):
        for event in docker.images.push(
            repository, tag=tag, stream=True, decode=True, auth_config=auth
        ):
            if event.get("error"):
                raise ExternalError(
                    f"push {target}: {_one_line(event['error'])}{_hint(event['error'])}"
                )
            digest = (event.get("aux") or {}).get("Digest", digest)
            if event.get("status") and event.get("id"):
                progress(f"{event['id']}: {event['status']}")
    return digest or tag


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]


def _hint(error: str) -> str:
    lowered = error.lower()
    if "unauthorized" in lowered or "authentication required" in lowered:
        return " (run `az acr login -n <registry>` or give your identity the AcrPush role)"
    return ""
