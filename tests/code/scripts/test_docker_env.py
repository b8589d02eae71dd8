"""scripts/docker-env.sh without a Docker engine: `docker` and `dockerd` are stubs on PATH."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKER_ENV = ROOT / "scripts" / "docker-env.sh"
LOCAL = "amlstack/base:bookworm"


def _stub(path: Path, body: str) -> None:
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH directory whose `docker` has only the local base image and never pulls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(
        bin_dir / "docker",
        f"""case "$1 $2" in
  "image inspect") [ "$3" = "{LOCAL}" ] ;;
  "compose version") exit 0 ;;
  "info "*) [ -f "{tmp_path}/dockerd-started" ] ;;
  *) exit 1 ;;
esac""",
    )
    _stub(bin_dir / "docker-compose", "exit 0")
    return bin_dir


def run(script: str, bin_dir: Path, env_file: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AMLSTACK_")}
    environ.update(env, PATH=f"{bin_dir}:{os.environ['PATH']}", AMLSTACK_ENV_FILE=str(env_file))
    return subprocess.run(
        ["bash", "-c", f'source "{DOCKER_ENV}" && {script}'],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=True,
    )


def test_the_local_base_image_is_recorded_in_env_for_plain_compose(bin_dir, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("AMLSTACK_SCORER_PORT=5001\n")
    run("ensure_base_image && record_base_image", bin_dir, env_file)
    lines = env_file.read_text().splitlines()
    assert "AMLSTACK_SCORER_PORT=5001" in lines
    assert lines.count(f"AMLSTACK_BASE_IMAGE={LOCAL}") == 1
    run("ensure_base_image && record_base_image", bin_dir, env_file)  # idempotent
    assert env_file.read_text().splitlines() == lines


def test_a_recorded_base_image_is_used_without_trying_the_registry(bin_dir, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"AMLSTACK_BASE_IMAGE={LOCAL}\n")
    pulled = tmp_path / "pulled"
    _stub(
        bin_dir / "docker",
        f'[ "$1" = pull ] && touch "{pulled}"; [ "$1 $2 $3" = "image inspect {LOCAL}" ]',
    )
    out = run('ensure_base_image && echo "$AMLSTACK_BASE_IMAGE"', bin_dir, env_file)
    assert out.stdout.strip() == LOCAL
    assert not pulled.exists()  # offline, a pull attempt costs its 60 s timeout


def test_an_official_base_image_is_not_written_to_env(bin_dir, tmp_path):
    env_file = tmp_path / ".env"
    run("record_base_image", bin_dir, env_file, AMLSTACK_BASE_IMAGE="python:3.11-slim")
    assert not env_file.exists()


@pytest.mark.parametrize(("cpus", "recorded"), [("1", ["AMLSTACK_SCORER_CPUS=1"]), ("2", [])])
def test_a_one_cpu_machine_records_a_scorer_cpu_limit_docker_accepts(tmp_path, cpus, recorded):
    """Docker refuses the default limit of 2 CPUs where it sees 1: the stack would not start."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir / "docker", f'[ "$1" = info ] && echo {cpus}')
    env_file = tmp_path / ".env"
    run("record_scorer_cpus && record_scorer_cpus", bin_dir, env_file)  # twice: recorded once
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    assert [line for line in lines if not line.startswith("#")] == recorded
    run("record_scorer_cpus", bin_dir, env_file, AMLSTACK_SCORER_CPUS="0.5")  # a user's choice
    assert (env_file.read_text().splitlines() if env_file.exists() else []) == lines


def test_dockerd_is_not_left_running_under_a_copy_of_the_calling_script(bin_dir, tmp_path):
    """ps showed dockerd's parent as a long-lived `bash scripts/stack.sh`."""
    report = tmp_path / "parent"
    _stub(
        bin_dir / "dockerd",
        f"""touch "{tmp_path}/dockerd-started"
sleep 1
parent="$(ps -o ppid= -p $$ | tr -d ' ')"
ps -o args= -p "$parent" > "{report}.tmp"; mv "{report}.tmp" "{report}\"""",
    )
    run("ensure_docker", bin_dir, tmp_path / ".env", AMLSTACK_DOCKERD_LOG=str(tmp_path / "log"))
    deadline = time.monotonic() + 30
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "docker-env.sh" not in report.read_text()


def test_the_training_stage_gets_a_name_and_the_previous_one_goes(bin_dir, tmp_path):
    """Compose v1's builder left the ~1 GB trainer stage untagged after every build."""
    calls = tmp_path / "calls"
    _stub(
        bin_dir / "docker",
        f"""echo "$*" >> "{calls}"
case "$1 $2" in
  "images -q") case "$*" in *dangling*) echo new ;; *) echo old ;; esac ;;
  "image inspect") echo "[]" ;;
esac""",
    )
    run("tag_build_stage", bin_dir, tmp_path / ".env", AMLSTACK_TAG="t1")
    lines = calls.read_text().splitlines()
    assert "tag new amlstack/scorer-build:t1" in lines
    assert "rmi old" in lines  # the earlier build's stage, no longer named: not left dangling


def test_scorer_exec_picks_one_replica_of_many_under_pipefail(tmp_path):
    """`stack.sh key` runs under pipefail: taking the first of many replica ids with `head`
    killed the listing with SIGPIPE (exit 141) once several replicas ran (after a rollout)."""
    script = f"""set -euo pipefail
source "{DOCKER_ENV}"
compose() {{ for i in $(seq 1 50000); do echo "replica-$i"; done; }}
docker() {{ echo "exec into $3"; }}
scorer_exec true"""
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exec into replica-1"


def test_a_failed_start_ends_with_the_reason_a_service_gave(tmp_path):
    """A short key in .env: the scorer's one line was at line 586 of 853 lines of logs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    noise = "\n".join(f'ui_1 | {{"message": "GET /healthz {i}"}}' for i in range(300))
    _stub(
        bin_dir / "docker-compose",
        f"""cat <<'LOGS'
scorer_1 | amlstack scorer: AMLSTACK_PRIMARY_KEY: keys must be at least 16 characters
{noise}
LOGS""",
    )
    _stub(bin_dir / "docker", "exit 1")  # no Compose v2: docker-compose runs
    done = run("stack_logs", bin_dir, tmp_path / ".env")
    tail = done.stderr.strip().splitlines()[-2:]
    assert tail == [
        "amlstack: a service stopped, saying:",
        "  amlstack scorer: AMLSTACK_PRIMARY_KEY: keys must be at least 16 characters",
    ]


def test_a_docker_client_without_an_engine_gets_the_engine_installed(tmp_path):
    """A machine with a `docker` CLI (and Compose) but no `dockerd`: the set-up waited 60 s for
    an engine it could not start, then failed. It installs docker.io, then starts it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in (
        "id",
        "seq",
        "sleep",
        "tail",
        "setsid",
        "touch",
        "env",
        "bash",
        "chmod",
        "dirname",
    ):
        found = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True)
        (bin_dir / tool).symlink_to(found.stdout.strip())
    started = tmp_path / "dockerd-started"
    _stub(
        bin_dir / "docker",
        f'case "$1 $2" in "compose version") ;; "info "*) [ -f "{started}" ] ;; *) exit 1 ;; esac',
    )
    calls = tmp_path / "apt"
    # the package brings dockerd, which starts the engine
    _stub(
        bin_dir / "apt-get",
        f'echo "$*" >> "{calls}"\n'
        f'[ "$1" = install ] && printf \'#!/bin/sh\\ntouch "{started}"\\n\' > "{bin_dir}/dockerd" '
        f'&& chmod +x "{bin_dir}/dockerd"; exit 0',
    )
    environ = {"PATH": str(bin_dir), "AMLSTACK_DOCKERD_LOG": str(tmp_path / "log")}
    done = subprocess.run(
        [str(bin_dir / "bash"), "-c", f'source "{DOCKER_ENV}" && ensure_docker'],
        capture_output=True, text=True, env=environ, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "install -y -qq docker.io" in calls.read_text()
    assert "no Docker engine (dockerd)" in done.stderr
