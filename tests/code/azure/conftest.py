"""Fixtures for the Azure tests: a real artifact made from an AutoML-like ONNX, no credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_automl import DATA, automl_like_onnx


@pytest.fixture(scope="session")
def automl_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return automl_like_onnx(tmp_path_factory.mktemp("automl") / "model.onnx")


@pytest.fixture(scope="session")
def azure_artifact(automl_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete artifact written by automl.write_artifact (the Azure AutoML path)."""
    from amlstack.azure.automl import AzureLineage, write_artifact

    out = tmp_path_factory.mktemp("artifacts")
    lineage = AzureLineage(job="test-job", best_run="test-job_1", workspace="test")
    return write_artifact(
        automl_onnx, DATA, "y", out=out, name="bankmarketing", metrics={}, lineage=lineage
    )


@pytest.fixture
def no_credential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Azure credential of any kind, and no docker login."""
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
        "AZURE_CONFIG_DIR",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZUREML_WORKSPACE_NAME",
        "AZUREML_WORKSPACE",  # read by nothing, but once by the pipeline: keep tests honest
        "AZURE_CONTAINER_REGISTRY",
        "AMLSTACK_AZURE_ENDPOINT",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure"))  # no `az login` cache
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))


@pytest.fixture
def with_credential(monkeypatch: pytest.MonkeyPatch, no_credential: None) -> None:
    """A service principal in the environment (never used: clients are recorded)."""
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-secret")


@pytest.fixture(autouse=True)
def compose_tag_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local source image is `amlstack/scorer:local`, whatever tag the developer's shell or
    `.env` gives Compose (an empty AMLSTACK_TAG reads as unset, as in `${AMLSTACK_TAG:-local}`)."""
    monkeypatch.setenv("AMLSTACK_TAG", "")
