"""The one place where Azure, Docker and HTTP clients are created (tests swap in a recorder).

Everything else receives a ``Clients`` object and never imports azure-ai-ml, azure-identity,
docker or requests directly, so the orchestration can be proven offline.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amlstack.azure.workspace import Workspace
from amlstack.errors import ExternalError, UserError

# Environment variables that let DefaultAzureCredential authenticate without a person.
_SERVICE_PRINCIPAL = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID")
_SECRETS = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE")
_MANAGED_IDENTITY = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")
ACR_SCOPE = "https://management.azure.com/.default"


def credential_source(env: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    """Name the Azure credential found without any network call, or None (then: dry run)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if all(env.get(k) for k in _SERVICE_PRINCIPAL) and any(env.get(k) for k in _SECRETS):
        return "environment (service principal / workload identity)"
    if any(env.get(k) for k in _MANAGED_IDENTITY):
        return "managed identity"
    azure_dir = Path(env.get("AZURE_CONFIG_DIR") or home / ".azure")
    if shutil.which("az") and _az_logged_in(azure_dir):
        return "Azure CLI login (az login)"
    return None


def _az_logged_in(azure_dir: Path) -> bool:
    """`az login` leaves a token cache and a profile listing at least one subscription."""
    if not any(azure_dir.glob("msal_token_cache.*")):
        return False
    try:
        profile = json.loads((azure_dir / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    return bool(profile.get("subscriptions"))


class Clients:
    """Live clients, created lazily on first use."""

    def __init__(self) -> None:
        self._credential: Any = None

    def credential(self) -> Any:
        if self._credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise UserError(_missing_extra("azure-identity")) from None
            # Interactive browser login would hang CI; the CLI and env credentials suffice.
            self._credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        return self._credential

    def ml_client(self, workspace: Workspace) -> Any:
        try:
            from azure.ai.ml import MLClient
        except ImportError:
            raise UserError(_missing_extra("azure-ai-ml")) from None
        return MLClient(
            self.credential(),
            subscription_id=workspace.subscription_id,
            resource_group_name=workspace.resource_group,
            workspace_name=workspace.workspace_name,
        )

    def docker(self) -> Any:
        try:
            import docker
        except ImportError:
            raise UserError(_missing_extra("docker")) from None
        try:
            return docker.from_env()
        except docker.errors.DockerException as exc:
            raise ExternalError(f"cannot reach the Docker engine ({_first_line(exc)})") from None

    def http(self) -> Any:
        import requests

        return requests.Session()

    def acr_refresh_token(self, login_server: str) -> str:
        """Exchange an Azure AD token for an ACR refresh token (what `az acr login` does)."""
        aad = self.credential().get_token(ACR_SCOPE).token
        response = self.http().post(
            f"https://{login_server}/oauth2/exchange",
            data={"grant_type": "access_token", "service": login_server, "access_token": aad},
            timeout=30,
        )
        if response.status_code != 200:
            raise ExternalError(
                f"{login_server}: token exchange refused (HTTP {response.status_code}); "
                "does your identity have the AcrPush role on the registry?"
            )
        return response.json()["refresh_token"]


def _missing_extra(package: str) -> str:
    return f"{package} is not installed: pip install 'amlstack[azure]'"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
