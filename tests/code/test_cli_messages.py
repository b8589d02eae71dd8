"""What the CLI prints: brackets in messages are text, not rich markup; Locust's settings."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The azure command group with its extra missing, the way a plain `pip install -e .` leaves it.
MISSING_EXTRA = """
import sys
from amlstack import cli
cli.COMMAND_MODULES = (
    ("amlstack.commands.serve", ("serve", "score"), None),
    ("amlstack.no_such_module", ("azure",), "azure"),
)
cli.main(sys.argv[1:])
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-c", MISSING_EXTRA, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_a_missing_extra_names_it_in_the_error():
    """rich read "[azure]" as a style tag and printed `pip install 'amlstack'`."""
    done = _cli("azure")
    assert done.returncode == 2
    assert "pip install 'amlstack[azure]'" in done.stderr


def test_a_missing_extra_names_it_in_the_help():
    done = _cli("--help")
    assert done.returncode == 0
    assert "amlstack[azure]" in done.stdout


def test_locust_conf_does_not_stop_web_ui_runs():
    """A run-time in locust.conf also ended runs started from the web UI after 30 s."""
    conf = configparser.ConfigParser()
    conf.read_string("[locust]\n" + (ROOT / "loadtest" / "locust.conf").read_text())
    assert "run-time" not in conf["locust"]
    assert "max-fail-ratio" in conf["locust"]  # the thresholds stay
