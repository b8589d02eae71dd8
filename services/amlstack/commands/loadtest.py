"""`amlstack loadtest`: a headless Locust run against a scorer, with a pass/fail verdict.

It runs a checkout's loadtest/locustfile.py (``--locustfile``; by default the one under the
current directory, i.e. a clone's root) with the locust.conf beside it (where the failure-ratio
and p95/p99 thresholds live), writes CSV and HTML reports, and exits with Locust's exit code.
The installed package never reaches from its own location into a checkout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from amlstack.errors import UserError

DEFAULT_LOCUSTFILE = Path("loadtest") / "locustfile.py"
# Locust's --run-time: 90, 30s, 2m, 1h30m (a zero one never stops a headless run)
_RUN_TIME = re.compile(r"\d+|(\d+h)?(\d+m)?(\d+s)?")
LOCUST_CONF = "locust.conf"  # the thresholds, next to the locustfile
KEY_ENV = "AMLSTACK_PRIMARY_KEY"


def locust_command(
    *,
    host: str,
    users: int,
    spawn_rate: float,
    run_time: str,
    report_dir: Path,
    locustfile: Path = DEFAULT_LOCUSTFILE,
    key_file: Path | None = None,
) -> list[str]:
    """The headless Locust command line (the key travels in the environment, not here)."""
    config = locustfile.parent / LOCUST_CONF
    command = [
        sys.executable, "-m", "locust",
        "--locustfile", str(locustfile),
        "--config", str(config),
        "--headless",
        "--host", host.rstrip("/"),
        "--users", str(users),
        "--spawn-rate", str(spawn_rate),
        "--run-time", run_time,
        "--csv", str(report_dir / "locust"),
        "--html", str(report_dir / "report.html"),
    ]  # fmt: skip
    if key_file is not None:
        command += ["--key-file", str(key_file)]
    return command


def loadtest(
    host: Annotated[str, typer.Option(help="Scorer base URL.")] = "http://127.0.0.1:5001",
    key: Annotated[
        str | None,
        typer.Option(envvar=KEY_ENV, show_envvar=True, help="Scoring key (primary or secondary)."),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help='Key file {"primaryKey": ...} instead of --key.')
    ] = None,
    users: Annotated[int, typer.Option(min=1, help="Concurrent simulated clients.")] = 10,
    spawn_rate: Annotated[float, typer.Option(min=0.1, help="Users started per second.")] = 5.0,
    run_time: Annotated[str, typer.Option(help="How long to run, e.g. 30s, 2m.")] = "30s",
    report_dir: Annotated[Path, typer.Option(help="Where locust_*.csv and report.html go.")] = Path(
        "reports/loadtest"
    ),
    locustfile: Annotated[
        Path, typer.Option(help="The locustfile; its thresholds are the locust.conf beside it.")
    ] = DEFAULT_LOCUSTFILE,
) -> None:
    """Load-test a scorer headless; exit non-zero when failures or p95/p99 pass locust.conf."""
    if not _RUN_TIME.fullmatch(run_time.strip()) or not any(c in "123456789" for c in run_time):
        raise UserError(f"--run-time {run_time!r}: a duration above 0, e.g. 30s, 2m, 1h30m")
    if importlib.util.find_spec("locust") is None:
        raise UserError("Locust is not installed; pip install 'amlstack[loadtest]'")
    if not locustfile.is_file():
        raise UserError(
            f"{locustfile}: no such locustfile; run from an amlstack checkout's root "
            "or pass --locustfile"
        )
    if not (locustfile.parent / LOCUST_CONF).is_file():
        raise UserError(f"{locustfile.parent / LOCUST_CONF}: no such file (the thresholds)")
    if not key and key_file is None:
        raise UserError(
            f"no scoring key: pass --key (or set {KEY_ENV}) or --key-file; "
            "for the Compose stack, scripts/stack.sh key prints it"
        )
    if key_file is not None and not key_file.is_file():
        what = "a folder; name the key file" if key_file.is_dir() else "no such file"
        raise UserError(f"--key-file {key_file}: {what}")
    report_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop(KEY_ENV, None)
    if key:
        env[KEY_ENV] = key
    command = locust_command(
        host=host,
        users=users,
        spawn_rate=spawn_rate,
        run_time=run_time,
        report_dir=report_dir,
        locustfile=locustfile,
        key_file=key_file,
    )
    code = subprocess.run(command, env=env, check=False).returncode
    typer.echo(f"reports: {report_dir}/report.html, {report_dir}/locust_stats.csv")
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("loadtest")(loadtest)
