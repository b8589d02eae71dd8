"""What the CLI prints: brackets in messages are text, not rich markup; Locust's settings."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


# `amlstack models` with a bug planted in the code it calls.
PLANTED_BUG = """
import sys
from amlstack import cli
from amlstack.training import store

def broken(root):
    raise RuntimeError("planted bug")

store.list_models = broken
cli.main(sys.argv[1:])
"""


def test_a_bug_is_one_line_saying_so_with_the_traceback_in_a_log(tmp_path):
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PLANTED_BUG, "models", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 70
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "RuntimeError: planted bug; this is a bug, please report it" in lines[0]
    logs = list(tmp_path.glob("amlstack-bug-*.log"))
    assert len(logs) == 1 and str(logs[0]) in lines[0]
    assert "Traceback" in logs[0].read_text() and "planted bug" in logs[0].read_text()


def test_an_interrupt_stops_training_even_when_a_library_swallows_it(tmp_path, monkeypatch):
    """scikit-learn's MLP catches KeyboardInterrupt, XGBoost turns it into its own error, and
    CatBoost leaves its train_dir behind: Ctrl-C must still end the run, and leave no litter."""
    import contextlib
    import signal

    from amlstack.commands.model import _interrupts

    monkeypatch.chdir(tmp_path)
    before = signal.getsignal(signal.SIGINT)  # Spark, started by other tests, sets its own
    with pytest.raises(KeyboardInterrupt), _interrupts() as interrupted:
        with contextlib.suppress(KeyboardInterrupt):  # swallowed, as scikit-learn's MLP does
            os.kill(os.getpid(), signal.SIGINT)
        assert interrupted.is_set()
        (tmp_path / "catboost_1796575912.5").mkdir()
        raise RuntimeError("XGBoostError: Check failed")  # what XGBoost raises instead
    assert not list(tmp_path.glob("catboost_*"))
    assert signal.getsignal(signal.SIGINT) is before
