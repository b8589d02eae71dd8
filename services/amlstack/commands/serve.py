"""`amlstack serve` (the scorer under gunicorn, no Docker) and `amlstack score` (a test client)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from amlstack.errors import ExternalError, UserError
from amlstack_scorer.contract import DEFAULT_PORT, DEFAULT_THREADS, DEFAULT_WORKERS

# Two records of the bank-marketing data: what `amlstack score` sends without --file.
SAMPLE_RECORDS = [
    {
        "age": 17, "job": "blue-collar", "marital": "married", "education": "university.degree",
        "default": "no", "housing": "yes", "loan": "yes", "contact": "cellular", "month": "may",
        "day_of_week": "mon", "duration": 971, "campaign": 1, "pdays": 999, "previous": 1,
        "poutcome": "failure", "emp.var.rate": -1.8, "cons.price.idx": 92.893,
        "cons.conf.idx": -46.2, "euribor3m": 1.299, "nr.employed": 5099.1,
    },
    {
        "age": 87, "job": "blue-collar", "marital": "married", "education": "university.degree",
        "default": "no", "housing": "yes", "loan": "yes", "contact": "cellular", "month": "may",
        "day_of_week": "mon", "duration": 471, "campaign": 1, "pdays": 999, "previous": 1,
        "poutcome": "failure", "emp.var.rate": -1.8, "cons.price.idx": 92.893,
        "cons.conf.idx": -46.2, "euribor3m": 1.299, "nr.employed": 5099.1,
    },
]  # fmt: skip
TIMEOUT_S = 30


# The scorer's gunicorn settings, a module of the installed scorer package (as the image runs it).
GUNICORN_CONF = "python:amlstack_scorer.gunicorn_conf"


def serve(
    model: Annotated[Path, typer.Option(help="Artifact directory (artifacts/<name>/<version>).")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    workers: Annotated[int, typer.Option(help="gunicorn worker processes.")] = DEFAULT_WORKERS,
    threads: Annotated[int, typer.Option(help="Threads per gthread worker.")] = DEFAULT_THREADS,
    worker_class: Annotated[str, typer.Option(help="gunicorn worker class: sync or gthread.")] = (
        "sync"
    ),
    key_file: Annotated[
        Path | None,
        typer.Option(help="JSON key file {primaryKey, secondaryKey}; created if missing."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without keys (logged as a warning).")
    ] = False,
) -> None:
    """Serve a model artifact locally under gunicorn, with the container's settings."""
    from amlstack.artifact.reader import Model
    from amlstack_scorer.settings import Settings, SettingsError, host_port

    if not host.strip():  # gunicorn would bind every interface, shown as http://:PORT
        raise UserError("--host: give an address (127.0.0.1; 0.0.0.0 for every interface)")
    Model(model, verify=True)  # fail here, with one line, rather than in every worker
    env = dict(os.environ)
    env.update(
        AMLSTACK_MODEL_DIR=str(model.resolve()),
        AMLSTACK_HOST=host,
        AMLSTACK_PORT=str(port),
        AMLSTACK_WORKERS=str(workers),
        AMLSTACK_THREADS=str(threads),
        AMLSTACK_WORKER_CLASS=worker_class,
    )
    if no_auth:
        env["AMLSTACK_AUTH"] = "none"
    elif key_file is not None:
        env.update(AMLSTACK_KEY_FILE=str(key_file.resolve()), AMLSTACK_GENERATE_KEYS="1")
    try:
        Settings.from_env(env)
    except SettingsError as exc:
        message = str(exc)
        if message.startswith("AMLSTACK_HOST:"):  # what was typed: the option
            raise UserError("--host" + message.removeprefix("AMLSTACK_HOST")) from None
        hint = "" if no_auth else " (or pass --key-file PATH or --no-auth)"
        raise UserError(f"{message}{hint}") from None
    if key_file is not None and not no_auth:
        _check_key_file(key_file)
        typer.echo(f"keys: {key_file} (created if it did not exist)", err=True)
    typer.echo(f"serving {model} on http://{host_port(host, port)}", err=True)
    argv = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF]
    # Replace this process: gunicorn's master then gets Ctrl-C/SIGTERM/SIGHUP directly.
    os.execve(sys.executable, argv, env)  # noqa: S606 (fixed argv, no shell)


def _score_url(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (read for its check: a port that is no number)
    except ValueError as exc:  # http://[::1 (an unclosed bracket)
        raise UserError(f"--url {url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--url {url!r} is not an http(s) URL")
    if parts.path in ("", "/"):  # the route goes in the path, before any query
        return parts._replace(path="/score").geturl()
    return url


def score(
    url: Annotated[str, typer.Option(help="Scoring URL (…/score; a bare host gets /score).")],
    key: Annotated[
        str | None,
        typer.Option(envvar="AMLSTACK_PRIMARY_KEY", help="Endpoint key (sent as Bearer)."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="JSON payload to send instead of two sample records.")
    ] = None,
    data_out: Annotated[
        Path, typer.Option(help="Where to write the payload for an Apache Bench run.")
    ] = Path("data.json"),
) -> None:
    """Send records to a scoring endpoint and print the answer (payload saved for Apache Bench)."""
    import requests

    if file is not None:
        try:
            payload = json.loads(file.read_text())
        except FileNotFoundError:
            raise UserError(f"--file {file}: no such file") from None
        except ValueError as exc:
            raise UserError(f"--file {file}: not valid JSON ({exc})") from None
    headers = {"Content-Type": "application/json"}
    if key:
        from amlstack_scorer.settings import header_problem

        problem = header_problem(key)  # never echoed
        if problem:
            raise UserError(f"--key (or AMLSTACK_PRIMARY_KEY): {problem}")
        headers["Authorization"] = f"Bearer {key}"
    target = _score_url(url)
    if file is None:
        payload = {"data": _served_example(target, headers)}
    body = json.dumps(payload)
    data_out.write_text(body)
    try:
        resp = requests.post(target, data=body, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise ExternalError(f"cannot reach {target}: {exc}") from None
    if resp.status_code != 200:
        raise ExternalError(f"{target} answered {resp.status_code}: {_error_text(resp)}")
    typer.echo(json.dumps(resp.json(), indent=2))
    typer.echo(f"payload written to {data_out}", err=True)


def _served_example(target: str, headers: dict[str, str]) -> list[dict]:
    """The served model's own example record (its swagger.json), twice; the bank sample when
    the endpoint documents none (another model would score it as all-missing)."""
    import requests

    from amlstack.served_schema import example_record, swagger_url

    swagger = swagger_url(target.rsplit("/", 1)[0])
    try:
        doc = requests.get(swagger, headers=headers, timeout=TIMEOUT_S).json()
        record = example_record(doc)
    except (requests.RequestException, ValueError):  # SchemaError is a ValueError
        typer.echo(f"no example record at {swagger}: sending the bank sample", err=True)
        return SAMPLE_RECORDS
    return [record, dict(record)]


def _check_key_file(key_file: Path) -> None:
    """A key file that exists must be one the workers read; else every worker dies at start
    (gunicorn then exits, sometimes with a traceback of its own)."""
    from amlstack_scorer.auth import read_key_file
    from amlstack_scorer.settings import SettingsError

    if key_file.is_dir():
        raise UserError(f"--key-file {key_file}: a folder; name the key file")
    if key_file.exists():
        try:
            read_key_file(key_file)
        except SettingsError as exc:
            raise UserError(f"--key-file {str(exc).split(': ', 1)[1]}") from None


def _error_text(resp) -> str:
    try:
        error = resp.json()["error"]
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]
    if not isinstance(error, dict):  # the V2 protocol's {"error": "<message>"}, or another's
        return str(error)[:300]
    field = f" (field {error['field']})" if error.get("field") else ""
    return f"{error.get('message')}{field}; request id {error.get('request_id')}"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("score")(score)
