"""Workspace resolution and credential detection: offline, one clear line when incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amlstack.azure.clients import credential_source
from amlstack.azure.workspace import Workspace, resolve_workspace
from amlstack.errors import UserError

SUB1 = "11111111-1111-1111-1111-111111111111"


def test_config_json_as_azure_ml_writes_it(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": SUB1, "resource_group": "rg1", "workspace_name": "ws1"})
    )
    assert resolve_workspace(env={}, cwd=tmp_path) == Workspace(SUB1, "rg1", "ws1")


def test_options_beat_environment_beats_config(tmp_path: Path) -> None:
    config = tmp_path / "ws.json"
    config.write_text(
        json.dumps({"subscription_id": SUB1, "resourceGroup": "rg1", "workspaceName": "ws1"})
    )
    env = {"AZURE_RESOURCE_GROUP": "rg-env", "AZUREML_WORKSPACE_NAME": "ws-env"}
    ws = resolve_workspace(config=config, workspace_name="ws-opt", env=env, cwd=tmp_path)
    assert ws == Workspace(SUB1, "rg-env", "ws-opt")


def test_missing_fields_are_named_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        resolve_workspace(subscription_id=SUB1, env={}, cwd=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "AZURE_RESOURCE_GROUP" in message and "AZUREML_WORKSPACE_NAME" in message
    assert "AZURE_SUBSCRIPTION_ID" not in message


@pytest.mark.parametrize(
    ("given", "named", "rule"),
    [
        ({"subscription_id": "notaguid"}, "--subscription-id 'notaguid'", "GUID"),
        ({"resource_group": "rg with space"}, "--resource-group 'rg with space'", "1-90"),
        ({"resource_group": "rg."}, "--resource-group 'rg.'", "not ending with '.'"),
        ({"resource_group": "r" * 91}, "--resource-group", "1-90"),
        ({"workspace_name": "my workspace!"}, "--workspace 'my workspace!'", "3-33"),
        ({"workspace_name": "ws"}, "--workspace 'ws'", "3-33"),
        ({"workspace_name": "-ws1"}, "--workspace '-ws1'", "starting with a letter or digit"),
    ],
)
def test_names_azure_refuses_are_one_line_naming_option_and_rule(
    tmp_path: Path, given: dict[str, str], named: str, rule: str
) -> None:
    fields = {"subscription_id": SUB1, "resource_group": "rg", "workspace_name": "ws1"} | given
    with pytest.raises(UserError) as caught:
        resolve_workspace(**fields, env={}, cwd=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(named) and rule in message


def test_a_bad_name_from_the_environment_or_config_names_where_it_came_from(
    tmp_path: Path,
) -> None:
    env = {
        "AZURE_SUBSCRIPTION_ID": SUB1,
        "AZURE_RESOURCE_GROUP": "rg",
        "AZUREML_WORKSPACE_NAME": "a b",
    }
    with pytest.raises(UserError, match=r"^AZUREML_WORKSPACE_NAME 'a b': an Azure ML workspace"):
        resolve_workspace(env=env, cwd=tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": "s1", "resource_group": "rg1", "workspace_name": "ws1"})
    )
    with pytest.raises(UserError, match=r"config\.json subscription_id 's1': a subscription id"):
        resolve_workspace(env={}, cwd=tmp_path)


def test_names_azure_accepts_pass_and_are_quoted_for_a_shell(tmp_path: Path) -> None:
    ws = resolve_workspace(
        subscription_id=SUB1.upper(), resource_group="my_RG.(test)-1", workspace_name="Ws_1-a",
        env={}, cwd=tmp_path,
    )  # fmt: skip
    assert ws == Workspace(SUB1.upper(), "my_RG.(test)-1", "Ws_1-a")
    assert ws.cli_args() == (
        f"--subscription {SUB1.upper()} --resource-group 'my_RG.(test)-1' --workspace-name Ws_1-a"
    )


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


def test_a_null_config_field_is_not_set_rather_than_named_none(tmp_path: Path) -> None:
    """`"subscription_id": null` was read as the subscription 'None' ("not a GUID"), and a null
    `resource_group` hid the older `resourceGroup` spelling beside it."""
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": None, "resource_group": None, "resourceGroup": "rg1",
                    "workspace_name": "ws1"})
    )  # fmt: skip
    with pytest.raises(UserError) as caught:
        resolve_workspace(env={}, cwd=tmp_path)
    assert str(caught.value).startswith("no Azure ML workspace: set --subscription-id or")
    env = {"AZURE_SUBSCRIPTION_ID": SUB1}
    assert resolve_workspace(env=env, cwd=tmp_path) == Workspace(SUB1, "rg1", "ws1")
