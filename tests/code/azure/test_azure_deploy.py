"""Orchestration against a recorder at the clients.py boundary: exact calls, exact order."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint
from azure_recorder import PRIMARY_KEY, SCORING_URI, AzureState, Recorder, endpoint, quota_error

from amlstack.azure import deploy, specs
from amlstack.azure.release import release
from amlstack.azure.workspace import Workspace
from amlstack.errors import ExternalError, UserError

WS = Workspace("sub", "rg", "ws")
ROWS = [{"age": 41, "job": "admin."}]
SETTINGS = specs.DeploymentSettings(
    endpoint="ep1",
    deployment="blue",
    image="myacr.azurecr.io/amlstack-scorer:3",
    appinsights_connection_string="InstrumentationKey=abc",
)


def existing_endpoint(
    traffic: dict[str, int], tags: dict[str, str] | None = None, mirror: dict | None = None
) -> AzureState:
    """A workspace with endpoint ``ep`` and one deployment per slot named in ``traffic``."""
    deployments = {
        name: ManagedOnlineDeployment(name=name, endpoint_name="ep1") for name in traffic
    }
    return AzureState(endpoint=endpoint("ep1", traffic, tags, mirror), deployments=deployments)


def run(rec: Recorder, **kwargs) -> deploy.DeployResult:
    steps: list[str] = []
    result = deploy.deploy(
        rec.ml, rec.http(), SETTINGS, ROWS, progress=lambda step, _msg: steps.append(step), **kwargs
    )
    assert list(dict.fromkeys(steps)) == [s for s, _ in deploy.DEPLOY_STEPS]
    return result


def test_fresh_endpoint_is_created_deployed_smoke_tested_then_given_traffic() -> None:
    rec = Recorder()
    result = run(rec)
    assert rec.calls == [
        ("online_endpoints.get", "ep1"),
        ("online_endpoints.begin_create_or_update", "ep1", {}),
        ("online_endpoints.get", "ep1"),
        ("online_deployments.begin_create_or_update", "blue"),
        ("online_endpoints.get_keys", "ep1"),
        (
            "http.post",
            SCORING_URI,
            {
                "Authorization": f"Bearer {PRIMARY_KEY}",
                "Content-Type": "application/json",
                "azureml-model-deployment": "blue",
            },
        ),
        ("online_endpoints.begin_create_or_update", "ep1", {"blue": 100}),
    ]
    created, deployment = rec.entities[0], rec.entities[1]
    assert isinstance(created, ManagedOnlineEndpoint) and created.auth_mode == "key"
    assert isinstance(deployment, ManagedOnlineDeployment)
    assert deployment.environment.image == SETTINGS.image
    # The live deployment carries the real connection string, not the plan's mask.
    assert deployment.environment_variables["APPLICATIONINSIGHTS_CONNECTION_STRING"] == (
        "InstrumentationKey=abc"
    )
    assert result.traffic == {"blue": 100} and result.previous_traffic == {}


def test_second_release_goes_to_the_idle_slot_and_remembers_the_old_split() -> None:
    rec = Recorder(existing_endpoint({"blue": 100}))
    result = run(rec)
    assert result.deployment == "green"
    assert rec.names() == [
        "online_endpoints.get",
        "online_deployments.begin_create_or_update",
        "online_endpoints.get_keys",
        "http.post",
        "online_endpoints.begin_create_or_update",
    ]
    assert rec.calls[-1][2] == {"blue": 0, "green": 100}
    assert json.loads(rec.state.endpoint.tags[deploy.PREVIOUS_TRAFFIC_TAG]) == {"blue": 100}


def test_canary_moves_only_its_share() -> None:
    rec = Recorder(existing_endpoint({"blue": 100}))
    result = run(rec, canary=10)
    assert result.traffic == {"blue": 90, "green": 10}


def test_failed_smoke_test_moves_no_traffic_and_reports_the_idle_deployment(monkeypatch) -> None:
    monkeypatch.setattr(deploy, "SMOKE_BACKOFF_S", 0.0)
    state = existing_endpoint({"blue": 100})
    state.smoke_status = 500
    state.smoke_body = '{"error": "model not loaded"}'
    rec = Recorder(state)
    with pytest.raises(deploy.SmokeTestFailed) as caught:
        deploy.deploy(rec.ml, rec.http(), SETTINGS, ROWS)
    message = str(caught.value)
    assert "green" in message and "HTTP 500" in message and "traffic NOT moved" in message
    assert "\n" not in message
    # No traffic update at all: the only endpoint write would have been the traffic move.
    assert "online_endpoints.begin_create_or_update" not in rec.names()
    assert rec.names().count("http.post") == deploy.SMOKE_ATTEMPTS
    assert state.endpoint.traffic == {"blue": 100}
    assert "green" in state.deployments  # left at 0% for inspection


def test_smoke_client_error_is_not_retried() -> None:
    state = existing_endpoint({"blue": 100})
    state.smoke_status = 422
    rec = Recorder(state)
    with pytest.raises(deploy.SmokeTestFailed):
        deploy.deploy(rec.ml, rec.http(), SETTINGS, ROWS)
    assert rec.names().count("http.post") == 1
    assert state.endpoint.traffic == {"blue": 100}


def test_quota_failure_is_one_line_and_nothing_else_happens() -> None:
    state = existing_endpoint({"blue": 100})
    state.fail_deployment = quota_error()
    rec = Recorder(state)
    with pytest.raises(ExternalError, match="quota exceeded") as caught:
        deploy.deploy(rec.ml, rec.http(), SETTINGS, ROWS)
    assert "\n" not in str(caught.value)
    assert rec.names() == ["online_endpoints.get", "online_deployments.begin_create_or_update"]
    assert state.endpoint.traffic == {"blue": 100}


def test_endpoint_without_key_auth_is_refused() -> None:
    state = AzureState(endpoint=endpoint("ep1", {"blue": 100}, auth_mode="aml_token"))
    rec = Recorder(state)
    with pytest.raises(UserError, match="auth_mode aml_token"):
        deploy.deploy(rec.ml, rec.http(), SETTINGS, ROWS)
    assert rec.names() == ["online_endpoints.get"]


def test_rollback_restores_the_previous_split_and_can_be_undone() -> None:
    rec = Recorder(existing_endpoint({"blue": 100}))
    run(rec)  # blue -> green
    before, after = deploy.rollback(rec.ml, "ep1")
    assert (before, after) == ({"blue": 0, "green": 100}, {"blue": 100, "green": 0})
    assert rec.state.endpoint.traffic == {"blue": 100, "green": 0}
    assert deploy.rollback(rec.ml, "ep1")[1] == {"blue": 0, "green": 100}


def test_rollback_without_history_is_one_clear_line() -> None:
    rec = Recorder(existing_endpoint({"blue": 100}))
    with pytest.raises(UserError, match="nothing to roll back to"):
        deploy.rollback(rec.ml, "ep1")
    assert "online_endpoints.begin_create_or_update" not in rec.names()


def test_rollback_refuses_when_a_deployment_is_gone() -> None:
    state = existing_endpoint({"green": 100}, {deploy.PREVIOUS_TRAFFIC_TAG: '{"blue": 100}'})
    rec = Recorder(state)
    with pytest.raises(UserError, match="blue no longer exists"):
        deploy.rollback(rec.ml, "ep1")


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (deploy.PREVIOUS_TRAFFIC_TAG, "blue=100"),
        (deploy.PREVIOUS_TRAFFIC_TAG, '["blue"]'),
        (deploy.PREVIOUS_TRAFFIC_TAG, '{"blue": "all"}'),
        (deploy.PREVIOUS_TRAFFIC_TAG, '{"blue": true}'),
        (deploy.PREVIOUS_TRAFFIC_TAG, '{"blue": 250}'),
        (deploy.PREVIOUS_TRAFFIC_TAG, '{"blue": 30}'),
        (deploy.PREVIOUS_MODEL_TAG, "[1]"),
    ],
)
def test_rollback_names_a_tag_edited_by_hand(tag, value) -> None:
    tags = {deploy.PREVIOUS_TRAFFIC_TAG: '{"blue": 100}', tag: value}
    rec = Recorder(existing_endpoint({"blue": 0, "green": 100}, tags))
    with pytest.raises(UserError, match=f"its tag {tag} is not as amlstack wrote it"):
        deploy.rollback(rec.ml, "ep1")
    assert "online_endpoints.begin_create_or_update" not in rec.names()


def test_promote_finishes_a_canary() -> None:
    rec = Recorder(existing_endpoint({"blue": 100}))
    run(rec, canary=25)
    assert deploy.promote(rec.ml, "ep1", "green") == {"blue": 0, "green": 100}


@pytest.mark.parametrize(
    ("previous", "new", "pct", "expected"),
    [
        ({}, "blue", 10, {"blue": 100}),
        ({"blue": 100}, "green", 100, {"blue": 0, "green": 100}),
        ({"blue": 100}, "green", 33, {"blue": 67, "green": 33}),
        ({"a": 50, "b": 50}, "green", 10, {"a": 45, "b": 45, "green": 10}),
        ({"a": 70, "b": 30}, "green", 15, {"a": 60, "b": 25, "green": 15}),
    ],
)
def test_shifted_traffic_always_sums_to_100(previous, new, pct, expected) -> None:
    split = deploy.shifted_traffic(previous, new, pct)
    assert split == expected and sum(split.values()) == 100


def test_both_slots_busy_is_refused() -> None:
    with pytest.raises(UserError, match="both slots"):
        deploy.choose_slot({"blue": 50, "green": 50})


def test_a_slot_receiving_mirrored_traffic_is_not_idle() -> None:
    """Someone's shadow test on green: green has 0% live traffic but is in use."""
    assert deploy.choose_slot({"blue": 0, "green": 100}, {"blue": 0}) == "blue"
    with pytest.raises(UserError, match="both slots"):
        deploy.choose_slot({"blue": 100, "green": 0}, {"green": 10})
    rec = Recorder(existing_endpoint({"blue": 100, "green": 0}, mirror={"green": 10}))
    with pytest.raises(UserError, match="both slots"):
        run(rec)
    assert "online_deployments.begin_create_or_update" not in rec.names()


def test_an_explicit_slot_with_mirrored_traffic_is_refused() -> None:
    rec = Recorder(existing_endpoint({"blue": 100, "green": 0}, mirror={"green": 10}))
    with pytest.raises(UserError, match="green carries 10% mirrored traffic"):
        deploy.deploy(rec.ml, rec.http(), SETTINGS, ROWS, slot="green")


def test_traffic_moves_keep_the_mirror_split() -> None:
    rec = Recorder(existing_endpoint({"blue": 100}, mirror={"blue": 0}))
    run(rec)
    sent = rec.entities[-1]
    assert isinstance(sent, ManagedOnlineEndpoint) and sent.mirror_traffic == {"blue": 0}


def test_the_sdk_rejects_what_the_recorder_rejects() -> None:
    """The doubles carry the SDK's signatures: a call Azure's client would refuse fails here."""
    rec = Recorder(existing_endpoint({"blue": 100}))
    with pytest.raises(TypeError):
        rec.ml.online_endpoints.get("ep1", "extra-positional")
    with pytest.raises(TypeError):
        rec.ml.online_deployments.get_logs(name="blue", endpoint_name="ep1")  # lines missing
    from azure.ai.ml.exceptions import ValidationException

    with pytest.raises(ValidationException):
        rec.ml.online_deployments.get_logs(
            name="blue", endpoint_name="ep1", lines=10, container_type="init"
        )
    with pytest.raises(AssertionError, match="not simulated"):
        rec.ml.online_endpoints.begin_delete("ep1")


def test_release_pushes_before_deploying() -> None:
    rec = Recorder()
    release(rec, WS, SETTINGS, ROWS, source_image="amlstack-scorer:3", use_azure_credential=True)
    names = rec.names()
    assert names[:4] == ["docker.get", "docker.tag", "acr_refresh_token", "docker.push"]
    assert names.index("docker.push") < names.index("online_deployments.begin_create_or_update")
    push = rec.calls[3]
    assert push[1] == SETTINGS.image
    assert push[2] == {
        "username": "00000000-0000-0000-0000-000000000000",
        "password": "acr-refresh-token",
    }


def test_failed_push_never_reaches_azure_ml() -> None:
    rec = Recorder(AzureState(push_error="unauthorized: authentication required"))
    with pytest.raises(ExternalError, match=r"unauthorized.*az acr login"):
        release(
            rec, WS, SETTINGS, ROWS, source_image="amlstack-scorer:3", use_azure_credential=True
        )
    assert not any(n.startswith(("online_", "ml_client")) for n in rec.names())


def test_missing_local_image_is_a_user_error_before_any_push() -> None:
    rec = Recorder(AzureState(image_exists=False))
    with pytest.raises(UserError, match="local image amlstack-scorer:3 not found"):
        release(
            rec, WS, SETTINGS, ROWS, source_image="amlstack-scorer:3", use_azure_credential=False
        )
    assert rec.names() == ["docker.get"]


def test_push_with_docker_login_sends_no_auth_config() -> None:
    from amlstack.azure.registry_push import push

    rec = Recorder()
    assert push(rec, "amlstack-scorer:3", SETTINGS.image, use_azure_credential=False) == (
        "sha256:feed"
    )
    assert rec.calls[-1] == ("docker.push", SETTINGS.image, None)


def test_push_refuses_an_image_that_serves_another_model(tmp_path) -> None:
    from amlstack.azure.registry_push import push

    (tmp_path / "MANIFEST.json").write_text(
        '{"algorithm": "sha256", "files": {"model.onnx": "aa"}}'
    )
    rec = Recorder(AzureState(baked_manifest='{"files": {"model.onnx": "bb"}}'))
    with pytest.raises(UserError, match="does not serve the artifact"):
        push(
            rec,
            "amlstack/scorer:local",
            SETTINGS.image,
            use_azure_credential=False,
            artifact=tmp_path,
        )
    assert rec.names() == ["docker.get", "docker.run"]
    assert rec.calls[1][2] == ["cat", "/app/model/MANIFEST.json"]


def test_push_accepts_the_image_that_serves_the_artifact(tmp_path) -> None:
    from amlstack.azure.registry_push import push

    manifest = '{"algorithm": "sha256", "files": {"model.onnx": "aa"}}'
    (tmp_path / "MANIFEST.json").write_text(manifest)
    rec = Recorder(AzureState(baked_manifest=manifest))
    push(
        rec, "amlstack/scorer:local", SETTINGS.image, use_azure_credential=False, artifact=tmp_path
    )
    assert rec.names() == ["docker.get", "docker.run", "docker.tag", "docker.push"]


def test_a_model_whose_default_endpoint_name_collides_is_refused_before_any_change() -> None:
    """`Bank_Marketing` and `bank.marketing` both default to amlstack-bank-marketing: the second
    deploy took the first model's endpoint and moved all of its traffic to another model."""
    first = specs.DeploymentSettings(
        endpoint=specs.default_endpoint_name("bank.marketing"), deployment="blue",
        image="myacr.azurecr.io/amlstack-scorer:bank.marketing-1",
        model_name="bank.marketing", model_version="1",
    )  # fmt: skip
    rec = Recorder()
    deploy.deploy(rec.ml, rec.http(), first, ROWS)
    assert rec.state.endpoint.tags[specs.MODEL_TAG] == "bank.marketing"
    second = specs.DeploymentSettings(
        endpoint=specs.default_endpoint_name("Bank_Marketing"), deployment="blue",
        image="myacr.azurecr.io/amlstack-scorer:Bank_Marketing-1",
        model_name="Bank_Marketing", model_version="1",
    )  # fmt: skip
    assert second.endpoint == first.endpoint == "amlstack-bank-marketing"
    before = len(rec.calls)
    with pytest.raises(UserError, match=r"serves model 'bank\.marketing'.*--endpoint"):
        deploy.deploy(rec.ml, rec.http(), second, ROWS)
    assert [c[0] for c in rec.calls[before:]] == ["online_endpoints.get"]
    assert rec.state.endpoint.traffic == {"blue": 100}
    # named on purpose, the same endpoint takes the other model (blue/green as ever)
    result = deploy.deploy(rec.ml, rec.http(), replace(second, endpoint_given=True), ROWS)
    assert result.traffic == {"blue": 0, "green": 100}


def test_the_model_tag_follows_the_traffic_and_rollback_restores_it() -> None:
    """The endpoint's model tag was written only when it was created: after a takeover with
    --endpoint (as the refusal advises) it still named the old model, so the new owner's default
    deploys were refused and the old model's took its traffic; an endpoint created before the
    tag was never tagged. Each traffic move tags it now, and rollback restores the old tag."""

    def settings(model: str, version: str) -> specs.DeploymentSettings:
        return specs.DeploymentSettings(
            endpoint=specs.default_endpoint_name(model), deployment="blue",
            image=f"myacr.azurecr.io/amlstack-scorer:{model}-{version}",
            model_name=model, model_version=version,
        )  # fmt: skip

    untagged = existing_endpoint({"blue": 100})  # created before the tag
    untagged.endpoint.name = "amlstack-bank-marketing"
    rec = Recorder(untagged)
    deploy.deploy(rec.ml, rec.http(), settings("bank.marketing", "1"), ROWS)
    assert rec.state.endpoint.tags[specs.MODEL_TAG] == "bank.marketing"
    taken = replace(settings("Bank_Marketing", "1"), endpoint_given=True)
    deploy.deploy(rec.ml, rec.http(), taken, ROWS)
    assert rec.state.endpoint.tags[specs.MODEL_TAG] == "Bank_Marketing"
    with pytest.raises(UserError, match=r"serves model 'Bank_Marketing'"):
        deploy.deploy(rec.ml, rec.http(), settings("bank.marketing", "2"), ROWS)
    assert rec.state.endpoint.traffic == {"blue": 100, "green": 0}
    # rollback gives the traffic back to bank.marketing, and the tag with it; undone, both return
    deploy.rollback(rec.ml, "amlstack-bank-marketing")
    assert rec.state.endpoint.traffic == {"blue": 0, "green": 100}
    assert rec.state.endpoint.tags[specs.MODEL_TAG] == "bank.marketing"
    deploy.rollback(rec.ml, "amlstack-bank-marketing")
    assert rec.state.endpoint.tags[specs.MODEL_TAG] == "Bank_Marketing"
    result = deploy.deploy(rec.ml, rec.http(), settings("Bank_Marketing", "2"), ROWS)
    assert result.traffic == {"blue": 0, "green": 100}  # the owner's default deploys go on
