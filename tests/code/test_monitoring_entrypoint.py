"""monitoring/entrypoint.py without Docker: a stub `prometheus` on PATH stands in for the server.

The stub plays the container's life: it checks the scrape key it was started with, rotates the
key in the keys file as the README says (edit primaryKey), and waits for the key it would send
on its next scrape to follow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
OLD, NEW = "first-key-0123456789abcdef", "rotated-key-0123456789abcdef"

# Exits 0 once scrape.key holds NEW after the rotation, 1 when it does not within 10 s.
STUB = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$WORK/args"
started=$(cat "$WORK/scrape.key")
[ "$started" = "$EXPECT_FIRST" ] || { echo "started with $started"; exit 2; }
[ -n "$ROTATE_TO" ] || exit 0
printf '{"primaryKey": "%s", "secondaryKey": "s-0123456789abcdef"}' "$ROTATE_TO" > "$WORK/keys.json"
for _ in $(seq 100); do
  [ "$(cat "$WORK/scrape.key")" = "$ROTATE_TO" ] && exit 0
  sleep 0.1
done
echo "still scraping with $(cat "$WORK/scrape.key")"; exit 1
"""

RUN = """
import sys
from pathlib import Path
sys.path.insert(0, {monitoring!r})
import entrypoint
entrypoint.KEY_OUT = Path({key_out!r})
entrypoint.REFRESH_S = 0.1
entrypoint.main()
"""


def _entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "amlstack_monitoring", MONITORING / "entrypoint.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start(tmp_path: Path, *, expect_first: str, rotate_to: str = "", **env: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "prometheus").write_text(STUB)
    (bin_dir / "prometheus").chmod(0o755)
    (tmp_path / "keys.json").write_text(json.dumps({"primaryKey": OLD, "secondaryKey": "s" * 20}))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AMLSTACK_", "PROM"))}
    environ.update(
        env,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        WORK=str(tmp_path),
        EXPECT_FIRST=expect_first,
        ROTATE_TO=rotate_to,
        AMLSTACK_KEY_FILE=str(tmp_path / "keys.json"),
    )
    code = RUN.format(monitoring=str(MONITORING), key_out=str(tmp_path / "scrape.key"))
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_a_key_rotated_in_the_keys_file_reaches_the_next_scrape(tmp_path):
    # Before: the key was copied once at start, and every scrape after a rotation got 401.
    run = _start(tmp_path, expect_first=OLD, rotate_to=NEW)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "scrape.key").read_text() == NEW
    assert oct((tmp_path / "scrape.key").stat().st_mode & 0o777) == "0o600"
    assert "--config.file=/etc/amlstack/prometheus.yml" in (tmp_path / "args").read_text()


def test_a_key_from_the_environment_is_used_as_the_scorers_use_it(tmp_path):
    env_key = "from-env-0123456789abcdef"
    run = _start(tmp_path, expect_first=env_key, AMLSTACK_PRIMARY_KEY=env_key)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_half_written_key_file_keeps_the_last_key(tmp_path):
    entrypoint = _entrypoint()
    keys = tmp_path / "keys.json"
    keys.write_text('{"primaryKey": "rot')  # an editor in the middle of saving
    assert entrypoint.key_in_file(keys) == ""  # follow_key() then leaves scrape.key alone
    keys.write_text(json.dumps({"primaryKey": NEW}))
    assert entrypoint.key_in_file(keys) == NEW


def test_prometheus_reads_the_key_file_the_entrypoint_keeps_current():
    # credentials_file is read on every scrape: it must be the file follow_key() rewrites.
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    scrape = next(s for s in config["scrape_configs"] if s["job_name"] == "scorer")
    assert scrape["authorization"]["credentials_file"] == str(_entrypoint().KEY_OUT)
