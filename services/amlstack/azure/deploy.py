"""Blue/green deployment to a managed online endpoint; traffic moves only after a smoke test.

Order (the plan prints the same steps): ensure the key-auth endpoint, create or update the
idle slot's deployment at 0% traffic, smoke-test it through the ``azureml-model-deployment``
header, then move traffic (all of it, or a canary share). The replaced split is stored in an
endpoint tag so `rollback` can restore it from any machine; so is the replaced model tag, which
each traffic move sets to the model it gives the traffic to (`check_endpoint_model` reads it).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from amlstack.azure import specs
from amlstack.azure.failures import azure_call
from amlstack.errors import ExternalError, UserError

PREVIOUS_TRAFFIC_TAG = "amlstack-previous-traffic"
# the endpoint's model tag (`specs.MODEL_TAG`) the last traffic move replaced, JSON (null: none)
PREVIOUS_MODEL_TAG = "amlstack-previous-model-name"
DEPLOYMENT_HEADER = "azureml-model-deployment"
SMOKE_ATTEMPTS = 3
SMOKE_TIMEOUT_S = 60
SMOKE_BACKOFF_S = 2.0  # a fresh deployment can need a moment behind the gateway

# (step id, what it does) in the order `deploy` runs them.
DEPLOY_STEPS = (
    ("endpoint", "get the endpoint, or create it with auth_mode key"),
    ("deployment", "create/update the idle slot's deployment; it takes no traffic yet"),
    ("smoke", "POST the sample rows with header azureml-model-deployment: <slot>"),
    (
        "traffic",
        "move traffic to the new deployment (canary share or 100%), keep old split in a tag",
    ),
)

Progress = Callable[[str, str], None]


class SmokeTestFailed(ExternalError):
    """The new deployment did not answer; traffic was left as it was."""


@dataclass(frozen=True)
class DeployResult:
    endpoint: str
    deployment: str
    previous_traffic: dict[str, int]
    traffic: dict[str, int]
    scoring_uri: str


def _quiet(step: str, message: str) -> None:
    """Default progress reporter: silent."""


def load_entity(loader: Callable[..., Any], doc: Mapping[str, Any]) -> Any:
    """An azure-ai-ml entity from our dict, through the SDK's own schema validation."""
    return loader(source=io.StringIO(yaml.safe_dump(dict(doc), sort_keys=False)))


def choose_slot(traffic: Mapping[str, int], mirror: Mapping[str, int] | None = None) -> str:
    """The blue/green slot that carries no traffic, live or mirrored (blue on a fresh endpoint).

    A slot that receives mirrored (shadow) traffic is in use even at 0% live traffic: replacing
    it would silently end someone's shadow test.
    """
    mirror = mirror or {}
    for slot in specs.DEPLOYMENT_SLOTS:
        if traffic.get(slot, 0) == 0 and mirror.get(slot, 0) == 0:
            return slot
    busy = {k: v for k, v in {**traffic, **{f"{k} (mirror)": v for k, v in mirror.items()}}.items()
            if v}  # fmt: skip
    raise UserError(
        f"both slots {specs.DEPLOYMENT_SLOTS} carry traffic ({busy}); finish the canary "
        "with `amlstack azure promote` or `amlstack azure rollback` first"
    )


def shifted_traffic(previous: Mapping[str, int], new: str, percent: int) -> dict[str, int]:
    """Give ``new`` ``percent`` and share the rest among the others in their old proportions."""
    if not 0 < percent <= 100:
        raise UserError(f"traffic percentage must be 1..100, got {percent}")
    others = {k: v for k, v in previous.items() if k != new}
    total = sum(others.values())
    if total == 0:
        percent = 100
    rest = 100 - percent
    split = {k: (v * rest) // total if total else 0 for k, v in others.items()}
    # Integer shares must add up to exactly 100: give the remainder to the biggest old one.
    if split and total:
        biggest = max(others, key=lambda k: others[k])
        split[biggest] += rest - sum(split.values())
    split[new] = percent
    return split


def ensure_endpoint(ml: Any, name: str, progress: Progress = _quiet, model_name: str = "") -> Any:
    """The endpoint, created with key auth (and tagged with ``model_name``) when it does not
    exist yet."""
    from azure.ai.ml import load_online_endpoint
    from azure.core.exceptions import ResourceNotFoundError

    with azure_call(f"endpoint {name}"):
        try:
            endpoint = ml.online_endpoints.get(name)
        except ResourceNotFoundError:
            progress("endpoint", f"creating endpoint {name} (auth_mode key)")
            ml.online_endpoints.begin_create_or_update(
                load_entity(load_online_endpoint, specs.endpoint_spec(name, model_name=model_name))
            ).result()
            endpoint = ml.online_endpoints.get(name)
    if getattr(endpoint, "auth_mode", "key") != "key":
        raise UserError(
            f"endpoint {name} uses auth_mode {endpoint.auth_mode}; amlstack deploys only to "
            "key-authenticated endpoints"
        )
    return endpoint


def check_endpoint_model(endpoint: Any, settings: specs.DeploymentSettings) -> None:
    """UserError when the model's default endpoint name is an endpoint serving another model:
    names that differ only in case, in '_' or '.' for '-', or past the 32nd character
    (`Bank_Marketing` and `bank.marketing`) get the same default, and the second deploy would
    silently take the first model's traffic. A name given with --endpoint is the user's choice."""
    owner = (endpoint.tags or {}).get(specs.MODEL_TAG)
    if settings.endpoint_given or not owner or not settings.model_name:
        return
    if owner != settings.model_name:
        raise UserError(
            f"endpoint {endpoint.name} serves model {owner!r}, and model "
            f"{settings.model_name!r} gets the same default endpoint name: choose one with "
            f"--endpoint (or AMLSTACK_AZURE_ENDPOINT); naming this one replaces {owner!r}"
        )


def smoke_test(
    ml: Any, http: Any, endpoint: Any, deployment: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Score ``rows`` on one deployment only; raise SmokeTestFailed unless it answers 200 + JSON."""
    with azure_call(f"endpoint {endpoint.name} keys"):
        key = ml.online_endpoints.get_keys(endpoint.name).primary_key
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        DEPLOYMENT_HEADER: deployment,
    }
    problem = "no answer"
    for attempt in range(SMOKE_ATTEMPTS):
        try:
            response = http.post(
                endpoint.scoring_uri,
                json={"data": rows},
                headers=headers,
                timeout=SMOKE_TIMEOUT_S,
            )
        except Exception as exc:  # connection errors of any HTTP client
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    problem = "HTTP 200 but the body is not JSON"
                    break
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code < 500:
                break  # a client error will not change on retry
        if attempt + 1 < SMOKE_ATTEMPTS:
            time.sleep(SMOKE_BACKOFF_S * (attempt + 1))
    raise SmokeTestFailed(
        f"smoke test of deployment {deployment} failed ({problem}); traffic NOT moved "
        f"(still {dict(endpoint.traffic or {})}), {deployment} left at 0% - inspect with "
        f"`amlstack azure logs --deployment {deployment}`"
    )


def deploy(
    ml: Any,
    http: Any,
    settings: specs.DeploymentSettings,
    sample_rows: list[dict[str, Any]],
    *,
    canary: int | None = None,
    slot: str | None = None,
    progress: Progress = _quiet,
) -> DeployResult:
    """Run DEPLOY_STEPS; on any failure the endpoint's traffic is exactly what it was."""
    from azure.ai.ml import load_online_deployment

    if not sample_rows:
        raise UserError("the artifact has no sample_input.json rows to smoke-test the deployment")
    progress("endpoint", f"endpoint {settings.endpoint}")
    endpoint = ensure_endpoint(ml, settings.endpoint, progress, settings.model_name)
    check_endpoint_model(endpoint, settings)
    previous = {k: int(v) for k, v in (endpoint.traffic or {}).items()}
    mirror = {k: int(v) for k, v in (getattr(endpoint, "mirror_traffic", None) or {}).items()}
    name = specs.check_name(slot, "deployment") if slot else choose_slot(previous, mirror)
    if previous.get(name, 0) > 0 or mirror.get(name, 0) > 0:
        share = f"{previous[name]}%" if previous.get(name) else f"{mirror[name]}% mirrored"
        raise UserError(f"deployment {name} carries {share} traffic; deploy to the idle slot")
    settings = replace(settings, deployment=name)

    progress("deployment", f"deploying {settings.image} as {name} (0% traffic)")
    entity = load_entity(
        load_online_deployment, specs.deployment_spec(settings, mask_secrets=False)
    )
    with azure_call(f"deployment {name}"):
        ml.online_deployments.begin_create_or_update(entity).result()

    progress("smoke", f"smoke test of {name} through header {DEPLOYMENT_HEADER}")
    smoke_test(ml, http, endpoint, name, sample_rows)

    traffic = shifted_traffic(previous, name, canary or 100)
    progress("traffic", f"traffic {previous or '{}'} -> {traffic}")
    set_traffic(ml, endpoint, traffic, previous, model_name=settings.model_name or None)
    return DeployResult(settings.endpoint, name, previous, traffic, endpoint.scoring_uri)


def set_traffic(
    ml: Any,
    endpoint: Any,
    traffic: dict[str, int],
    previous: dict[str, int],
    model_name: str | None = None,
    *,
    untag: bool = False,
) -> None:
    """Apply a split and remember the one it replaces, and the model tag (for rollback), in one
    update. ``model_name``: the model the split serves now, for the endpoint's tag (an endpoint
    taken with --endpoint, or created before the tag, is tagged here); ``untag``: it had none."""
    tags = dict(endpoint.tags or {})
    tags[PREVIOUS_TRAFFIC_TAG] = json.dumps(previous)
    tags[PREVIOUS_MODEL_TAG] = json.dumps(tags.get(specs.MODEL_TAG))
    if model_name:
        tags[specs.MODEL_TAG] = model_name
    elif untag:
        tags.pop(specs.MODEL_TAG, None)
    endpoint.traffic = dict(traffic)
    endpoint.tags = tags
    with azure_call(f"traffic of {endpoint.name}"):
        ml.online_endpoints.begin_create_or_update(endpoint).result()


def rollback(ml: Any, endpoint_name: str) -> tuple[dict[str, int], dict[str, int]]:
    """Restore the split that the last traffic move replaced; returns (before, after)."""
    with azure_call(f"endpoint {endpoint_name}"):
        endpoint = ml.online_endpoints.get(endpoint_name)
        existing = {d.name for d in ml.online_deployments.list(endpoint_name)}
    previous = _recorded(endpoint, PREVIOUS_TRAFFIC_TAG, dict)
    if not previous:
        raise UserError(
            f"endpoint {endpoint_name}: no earlier traffic split recorded; nothing to roll back to"
        )
    gone = sorted(set(previous) - existing)
    if gone:
        raise UserError(
            f"endpoint {endpoint_name}: cannot roll back, deployment {gone[0]} no longer exists"
        )
    current = {k: int(v) for k, v in (endpoint.traffic or {}).items()}
    target = {name: int(previous.get(name, 0)) for name in sorted(existing | set(previous))}
    # the model tag the split had (none recorded, by an amlstack before it: left as it is)
    recorded = (endpoint.tags or {}).get(PREVIOUS_MODEL_TAG)
    model = _recorded(endpoint, PREVIOUS_MODEL_TAG, str)
    set_traffic(ml, endpoint, target, current, model, untag=bool(recorded) and model is None)
    return current, target


def _is_traffic(split: dict) -> bool:
    """Whether ``split`` is a traffic split Azure takes: whole percentages summing to 100 (or
    nothing anywhere)."""
    shares = list(split.values())
    whole = all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100 for v in shares)
    return whole and sum(shares) in (0, 100)


def _recorded(endpoint: Any, tag: str, kind: type) -> Any:
    """What `set_traffic` recorded in the endpoint's ``tag`` (None when nothing is): a value
    edited by hand into something else is one line naming the tag, not a traceback."""
    recorded = (endpoint.tags or {}).get(tag)
    if not recorded:
        return None
    try:
        value = json.loads(recorded)
    except ValueError:
        value = recorded
    well_formed = value is None or (
        isinstance(value, kind) and (kind is not dict or _is_traffic(value))
    )
    if not well_formed:
        raise UserError(
            f"endpoint {endpoint.name}: its tag {tag} is not as amlstack wrote it ({recorded!r}); "
            "fix or remove the tag, or set the traffic with `az ml online-endpoint update`"
        )
    return value


def promote(ml: Any, endpoint_name: str, deployment: str) -> dict[str, int]:
    """Finish a canary: the deployment takes all traffic."""
    with azure_call(f"endpoint {endpoint_name}"):
        endpoint = ml.online_endpoints.get(endpoint_name)
    current = {k: int(v) for k, v in (endpoint.traffic or {}).items()}
    if deployment not in current:
        raise UserError(f"endpoint {endpoint_name} has no deployment {deployment}")
    target = shifted_traffic(current, deployment, 100)
    set_traffic(ml, endpoint, target, current)
    return target
