"""Roll a promoted artifact out: the local Compose scorer, or Azure ML through ``azure.release``.

Compose: ``stack_rollout`` (scripts/docker-env.sh) builds the scorer image with the artifact
baked in while the old replicas serve, starts new replicas beside them, shifts the proxy's
traffic once they are healthy and drains the old ones; a bounded probe on loopback counts the
requests that failed during the switch, and the count is recorded in the stage result.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amlstack.errors import ExternalError, UserError
from amlstack.pipeline.jsonio import read_json
from amlstack_scorer.contract import DEFAULT_PORT, PRIMARY_KEY_ENV, READINESS_ROUTE, SCORING_ROUTE

PROBE_INTERVAL_S = 0.05
PROBE_MAX_REQUESTS = 20_000  # bounds the probe even if the swap hangs
COMPOSE_TIMEOUT_S = 900


COMPOSE_HELPERS = Path("scripts") / "docker-env.sh"


def repo_root() -> Path:
    """The checkout the Compose stack is built from: the current folder (a clone's root).

    The installed package does not know where a checkout is, so it never looks from its own file.
    """
    root = Path.cwd().resolve()
    if not (root / COMPOSE_HELPERS).is_file():
        raise UserError(
            f"{root} is not an amlstack checkout (no {COMPOSE_HELPERS}); the compose deploy "
            "builds from one: run it from the clone's root"
        )
    return root


class Probe(threading.Thread):
    """Send requests until stopped, counting failures; bounded in count and time.

    With a key and a payload it POSTs real scoring requests, else it polls readiness.
    """

    def __init__(
        self, base: str, deadline_s: float, key: str | None = None, payload: Any = None
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.key, self.payload = base, key, payload
        self.deadline = time.monotonic() + deadline_s
        self.ok = self.failed = 0
        self.first_failure = self.last_failure = None
        self.stop_event = threading.Event()

    @property
    def outage_seconds(self) -> float:
        """From the first failed request to the last (0 when none failed)."""
        if self.first_failure is None:
            return 0.0
        return round(self.last_failure - self.first_failure, 2)

    @property
    def route(self) -> str:
        return SCORING_ROUTE if self.key and self.payload else READINESS_ROUTE

    def _once(self, session) -> bool:
        if self.route == SCORING_ROUTE:
            headers = {"Authorization": f"Bearer {self.key}"}
            response = session.post(self.base + SCORING_ROUTE, json=self.payload, headers=headers,
                                    timeout=2)  # fmt: skip
        else:
            response = session.get(self.base + READINESS_ROUTE, timeout=2)
        return response.status_code == 200

    def run(self) -> None:
        import requests

        with requests.Session() as session:
            while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                if self.ok + self.failed >= PROBE_MAX_REQUESTS:
                    break
                try:
                    good = self._once(session)
                except requests.RequestException:
                    good = False
                self.ok += good
                self.failed += not good
                if not good:
                    self.last_failure = time.monotonic()
                    self.first_failure = self.first_failure or self.last_failure
                self.stop_event.wait(PROBE_INTERVAL_S)


def _compose(script: str, env: dict[str, str], timeout: float = COMPOSE_TIMEOUT_S) -> str:
    """Run bash with scripts/docker-env.sh loaded (Compose v2 or v1, the base image helper)."""
    helpers = repo_root() / "scripts" / "docker-env.sh"
    try:
        done = subprocess.run(
            ["bash", "-c", f'source "{helpers}" && {script}'], cwd=repo_root(), env=env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExternalError(f"{script}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExternalError(f"{script} failed: {last}")
    return done.stdout


def deploy_compose(artifact: Path, out: Path) -> dict[str, Any]:
    """Roll ``artifact`` out with ``stack_rollout`` (scripts/docker-env.sh) behind the proxy.

    New replicas are built and started beside the old ones and only take traffic once healthy;
    a failed health check leaves the old ones serving (ExternalError). A probe through the
    proxy counts the requests that failed during the switch (the aim, and the e2e test: none).
    """
    root = repo_root()
    try:
        relative = artifact.resolve().relative_to(root)
    except ValueError:
        raise UserError(
            f"{artifact} is outside the build context {root}; the image can only bake in "
            "artifacts under the repository (train with --artifacts artifacts)"
        ) from None
    env = {**os.environ, "AMLSTACK_MODEL_DIR_BUILD": relative.as_posix()}
    port = _scorer_port(os.environ.get("AMLSTACK_SCORER_PORT", ""))
    sample = read_json(artifact / "sample_input.json") or None
    probe = Probe(
        f"http://127.0.0.1:{port}", COMPOSE_TIMEOUT_S, os.environ.get(PRIMARY_KEY_ENV), sample
    )
    probe.start()
    started = time.monotonic()
    try:
        _compose(f'ensure_base_image && stack_rollout "{relative.as_posix()}"', env)
        swap_s = time.monotonic() - started
        containers = _compose("compose ps -q scorer", env, timeout=60).split()
        time.sleep(1.0)  # a few probes against the new replicas only
    finally:
        probe.stop_event.set()
        probe.join(timeout=5)
    return deploy_result(
        True,
        dry_run=False,
        target="compose",
        model_dir_build=relative.as_posix(),
        containers=[c[:12] for c in containers],
        rollout_seconds=round(swap_s, 1),
        switch_probe={
            "ok": probe.ok,
            "failed": probe.failed,
            "outage_seconds": probe.outage_seconds,
            "route": probe.route,
        },
    )


def deploy_azure(
    artifact: Path,
    out: Path,
    *,
    clients: Any = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Push the scorer image and deploy it blue/green, in this process (``azure.release``).

    Configured as `amlstack azure deploy` is: AZURE_CONTAINER_REGISTRY, the workspace
    variables (or config.json), AMLSTACK_AZURE_ENDPOINT, APPLICATIONINSIGHTS_CONNECTION_STRING.
    A missing registry or workspace fails the stage; a missing credential makes it a dry run
    that says so (``deployed: false, dry_run: true``). The image pushed is the local
    ``amlstack/scorer:local``, and the push refuses it unless it serves ``artifact``.
    """
    from amlstack.artifact.reader import Model
    from amlstack.azure import release as rel
    from amlstack.azure.clients import Clients, credential_source
    from amlstack.azure.plan import default_source_image
    from amlstack.azure.workspace import resolve_workspace
    from amlstack_scorer.contract import APPINSIGHTS_ENV

    env = os.environ if env is None else env
    _, settings = rel.deployment_settings(
        artifact, env.get(rel.REGISTRY_ENV), endpoint=env.get(rel.ENDPOINT_ENV),
        appinsights=env.get(APPINSIGHTS_ENV),
    )  # fmt: skip
    workspace = resolve_workspace(env=env)
    source = default_source_image(env)
    base = {"target": "azure", "image": settings.image, "source_image": source,
            "endpoint": settings.endpoint, "workspace": workspace.workspace_name}  # fmt: skip
    if clients is None and credential_source(env) is None:
        reason = "no Azure credential found (az login / AZURE_CLIENT_* / managed identity)"
        return deploy_result(False, dry_run=True, **base, reason=f"{reason}: nothing was sent")
    result = rel.release(
        clients or Clients(), workspace, settings, Model(artifact).sample_input(),
        source_image=source, use_azure_credential=True, artifact=artifact,
    )  # fmt: skip
    return deploy_result(
        True, dry_run=False, **base, deployment=result.deployment,
        previous_traffic=result.previous_traffic, traffic=result.traffic,
        scoring_uri=result.scoring_uri,
    )  # fmt: skip


def deploy_result(deployed: bool, *, dry_run: bool, **details: Any) -> dict[str, Any]:
    """A deploy stage's result: ``deployed`` only when something now serves the new model."""
    if deployed and dry_run:
        raise ValueError("a dry run deploys nothing")
    return {"deployed": deployed, "dry_run": dry_run, **details}


def _scorer_port(raw: str) -> int:
    """The stack's published scorer port, read as Compose reads it (empty: the default)."""
    if not raw.strip():
        return DEFAULT_PORT
    digits = raw.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= 65535:
        raise UserError(f"AMLSTACK_SCORER_PORT={raw!r}: a port number from 1 to 65535")
    return int(digits)
