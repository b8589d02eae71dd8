"""Workspace resolution and credential detection: offline, one clear line when incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amlstack.azure.clients import credential_source
from amlstack.azure.workspace import Workspace, resolve_workspace
from amlstack.errors import UserError


def test_config_json_as_azure_ml_writes_it(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": "s1", "resource_group": "rg1", "workspace_name": "ws1"})
    )
    assert resolve_workspace(env={}, cwd=tmp_path) == Workspace("s1", "rg1", "ws1")


def test_options_beat_environment_beats_config(tmp_path: Path) -> None:
    config = tmp_path / "ws.json"
    config.write_text(
        json.dumps({"subscription_id": "s1", "resourceGroup": "rg1", "workspaceName": "ws1"})
    )
    env = {"AZURE_RESOURCE_GROUP": "rg-env", "AZUREML_WORKSPACE_NAME": "ws-env"}
    ws = resolve_workspace(config=config, workspace_name="ws-opt", env=env, cwd=tmp_path)
    assert ws == Workspace("s1", "rg-env", "ws-opt")


def test_missing_fields_are_named_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        resolve_workspace(subscription_id="s", env={}, cwd=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "AZURE_RESOURCE_GROUP" in message and "AZUREML_WORKSPACE_NAME" in message
    assert "AZURE_SUBSCRIPTION_ID" not in message


def test_unreadable_config_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match=r"not a readable Azure ML config\.json"):
        resolve_workspace(config=bad, env={})


def test_credential_detection_needs_no_network(tmp_path: Path) -> None:
    assert credential_source({}, home=tmp_path) is None
    sp = {"AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"}
    assert "service principal" in credential_source(sp, home=tmp_path)
    assert (
        credential_source({"AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t"}, home=tmp_path) is None
    )
    assert credential_source({"IDENTITY_ENDPOINT": "http://169.254.169.254"}, home=tmp_path) == (
        "managed identity"
    )


def test_az_login_counts_only_with_a_token_cache_and_a_subscription(tmp_path, monkeypatch) -> None:
    from amlstack.azure import clients

    monkeypatch.setattr(clients.shutil, "which", lambda name: "/usr/bin/az")
    azure = tmp_path / ".azure"
    azure.mkdir()
    assert credential_source({}, home=tmp_path) is None
    (azure / "msal_token_cache.json").write_text("{}")
    (azure / "azureProfile.json").write_text('{"subscriptions": []}')
    assert credential_source({}, home=tmp_path) is None
    (azure / "azureProfile.json").write_text('\ufeff{"subscriptions": [{"id": "s"}]}')
    assert credential_source({}, home=tmp_path) == "Azure CLI login (az login)"
