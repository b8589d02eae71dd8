"""What the running stack leaves behind and prints: images, logs, how its containers stop."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

DOCKER_ENV = Path(__file__).resolve().parents[2] / "scripts" / "docker-env.sh"
pytestmark = pytest.mark.e2e
# Compose prefixes each line with "<container> | "; v1 and v2 differ in the name's form.
PREFIX = re.compile(r"^(?P<container>[\w.-]+)\s+\|\s?")


def test_no_dangling_training_stage_image(stack):
    """The legacy builder left the scorer's ~1 GB trainer stage as an untagged image."""
    left = stack.docker(
        "images", "-q", "-f", "dangling=true", "-f", "label=amlstack.stage=trainer"
    ).stdout.split()
    assert left == []


def test_scorer_logs_are_json_lines_once_each_without_telemetry_noise(stack):
    logs = stack.compose("logs", "--no-color", "scorer", timeout=60).stdout
    events, booting = [], []
    for line in logs.splitlines():
        match = PREFIX.match(line)
        if not match or not line[match.end() :].strip():
            continue
        # A plain-text line (gunicorn's own handler) fails here.
        event = json.loads(line[match.end() :])
        events.append(event)
        if event["message"].startswith("Booting worker"):
            # Each replica has its own PID namespace, so pids repeat across containers.
            booting.append((match["container"], event["message"]))
    assert events
    assert booting and len(booting) == len(set(booting))
    messages = [e["message"] for e in events]
    assert not [m for m in messages if "telemetry" in m.lower()]
    # The health check probes /ready every 5 s; successful probes stay out of the INFO log.
    assert not [e for e in events if e.get("route") == "/ready" and e.get("status") == 200]


def test_swagger_ui_stops_on_sigterm(stack):
    """It ignored SIGTERM as PID 1, so `docker stop` waited and then killed it (exit 137)."""
    container = stack.compose("ps", "-q", "swagger", timeout=60).stdout.split()[0]
    try:
        stack.docker("stop", "-t", "60", container, timeout=120)
        code = stack.docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()
        assert code == "0"
    finally:
        stack.compose("start", "swagger", timeout=120)
        subprocess.run(
            ["bash", "-c", f'source "{DOCKER_ENV}" && stack_wait_healthy 300 swagger'],
            check=True,
            timeout=360,
        )


def test_the_set_up_records_a_local_base_image_for_plain_compose(stack):
    """After `bash scripts/stack.sh`, plain `docker compose up --build` builds offline: the
    local base image it chose is in .env, where Compose reads it by itself."""
    if os.environ.get("AMLSTACK_E2E_STACK") == "running" or stack.base_image == "python:3.11-slim":
        pytest.skip("the official base image needs no record (or the stack was not ours)")
    env = (DOCKER_ENV.parents[1] / ".env").read_text()
    assert f"AMLSTACK_BASE_IMAGE={stack.base_image}" in env.splitlines()
    # Without the variable in the environment, Compose itself resolves the build argument from
    # .env (as a user's plain `docker compose up --build` does).
    config = stack.shell("unset AMLSTACK_BASE_IMAGE && compose config", timeout=60).stdout
    assert f"BASE_IMAGE: {stack.base_image}" in config


SIGNED_ARTIFACT = """
import shutil, sys, tempfile
from pathlib import Path
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from amlstack.artifact.manifest import ArtifactError, load_public_key
from amlstack.artifact.manifest import sign_manifest, verify_manifest
work = Path(tempfile.mkdtemp())
artifact = work / "model"
shutil.copytree("/app/model", artifact)
private = ed25519.Ed25519PrivateKey.generate()
(work / "key.pem").write_bytes(private.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
public = private.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
sign_manifest(artifact, work / "key.pem")
print("verified", len(verify_manifest(artifact, public_key=load_public_key(public))))
other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
try:
    verify_manifest(artifact, public_key=load_public_key(other))
except ArtifactError:
    print("refused")
"""


def test_the_scorer_image_verifies_signed_artifacts(stack):
    """AMLSTACK_MANIFEST_PUBLIC_KEY needs `cryptography` in the image: its model, signed,
    verifies with the signer's key and is refused with another's."""
    out = stack.shell('scorer_exec python -c "$1"', SIGNED_ARTIFACT, timeout=120).stdout.split()
    assert out[0] == "verified" and int(out[1]) > 0
    assert out[-1] == "refused"
