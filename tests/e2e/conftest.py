"""The Compose stack for the end-to-end tests.

With ``AMLSTACK_E2E_STACK=running`` the tests use the stack already up (default ports) and leave
it running. Otherwise the session starts its own stack (project ``amlstacke2e``) with the
README's run command, ``bash scripts/stack.sh``, and removes it with its volumes at the end.
No Docker: skipped on a developer machine, a failure in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DOCKER_ENV = ROOT / "scripts" / "docker-env.sh"
# Overridable so that two checkouts on one machine can each run their own stack.
E2E_PROJECT = os.environ.get("AMLSTACK_E2E_PROJECT", "amlstacke2e")
UP_TIMEOUT_S = 3600  # a cold build trains the default model and installs its libraries
LOG_TAIL = "200"


def shell(
    script: str, *args: str, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """Run bash ``script`` (args as "$@") with the scripts/docker-env.sh functions loaded."""
    result = subprocess.run(
        ["bash", "-c", f'source "{DOCKER_ENV}" && {script}', "docker-env", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{script} {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-8000:]}"
        )
    return result


def run_stack_sh(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``bash scripts/stack.sh ARGS`` from the checkout's root, as the README runs it."""
    result = subprocess.run(
        ["bash", "scripts/stack.sh", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"bash scripts/stack.sh {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-8000:]}"
        )
    return result


def compose(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    return shell('compose "$@"', *args, timeout=timeout, check=check)


def compose_logs() -> str:
    result = compose("logs", "--no-color", f"--tail={LOG_TAIL}", timeout=60, check=False)
    return result.stdout + result.stderr


@dataclass(frozen=True)
class Stack:
    """Where the running stack answers, and its key."""

    scorer: str
    swagger: str
    locust: str
    key: str
    base_image: str
    ui: str = ""
    prometheus: str = ""

    def score(self, payload: Any, key: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return requests.post(f"{self.scorer}/score", json=payload, headers=headers, timeout=30)

    @staticmethod
    def compose(*args: str, timeout: float = 600, check: bool = True):
        return compose(*args, timeout=timeout, check=check)

    @staticmethod
    def shell(script: str, *args: str, timeout: float = 600, check: bool = True):
        return shell(script, *args, timeout=timeout, check=check)

    @staticmethod
    def docker(*args: str, timeout: float = 120, check: bool = True):
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
        )

    def container_json(self, path: str) -> Any:
        """A JSON file read from inside the scorer container (e.g. the artifact's model.json)."""
        return json.loads(shell('scorer_exec cat "$1"', path, timeout=60).stdout)


def _port(service: str, default: int) -> int:
    """The published port Compose uses for ``service`` (the same variables as .env)."""
    return int(os.environ.get(f"AMLSTACK_{service}_PORT", default))


def _docker_usable() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    return probe.returncode == 0


def _wait_ready(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout_s} s")
        time.sleep(1)


@pytest.fixture(scope="session")
def stack() -> Stack:
    reuse = os.environ.get("AMLSTACK_E2E_STACK") == "running"
    if not reuse:
        if not _docker_usable():
            reason = "Docker is not installed or its engine is not running"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"e2e: {reason} (CI must run the Compose stack)")
            pytest.skip(f"e2e: {reason}; start dockerd or set AMLSTACK_E2E_STACK=running")
        os.environ["AMLSTACK_COMPOSE_PROJECT"] = E2E_PROJECT
    started = time.monotonic()
    # The official base image when it can be pulled, else the local one (built if missing).
    base = shell('ensure_base_image >&2 && echo "$AMLSTACK_BASE_IMAGE"', timeout=900)
    os.environ["AMLSTACK_BASE_IMAGE"] = base.stdout.strip().splitlines()[-1]
    if not reuse:
        try:
            run_stack_sh("up", timeout=UP_TIMEOUT_S)  # the README's own run command
        except AssertionError:
            shell("stack_down", timeout=300, check=False)
            raise
        print(f"\ne2e: stack built and up in {time.monotonic() - started:.0f} s")
    try:
        stack = Stack(
            scorer=f"http://127.0.0.1:{_port('SCORER', 5001)}",
            swagger=f"http://127.0.0.1:{_port('SWAGGER', 8080)}",
            locust=f"http://127.0.0.1:{_port('LOCUST', 8089)}",
            key=shell("stack_key", timeout=60).stdout.strip(),
            base_image=os.environ["AMLSTACK_BASE_IMAGE"],
            ui=f"http://127.0.0.1:{_port('UI', 8090)}",
            prometheus=f"http://127.0.0.1:{_port('PROMETHEUS', 9090)}",
        )
        _wait_ready(f"{stack.scorer}/ready")
        yield stack
    finally:
        if not reuse:
            shell("stack_down", timeout=300, check=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the Compose logs to every failed e2e test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("e2e") and "stack" in item.fixturenames:
        report.sections.append(("docker compose logs", compose_logs()))
