"""Settings from the environment: defaults, every bad value named, clean exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scorer_support import PRIMARY

from amlstack_scorer import contract as c
from amlstack_scorer.settings import DEFAULT_CORS, Settings, SettingsError

REPO = Path(__file__).resolve().parents[3]
KEYED = {c.PRIMARY_KEY_ENV: PRIMARY}


def test_defaults_come_from_the_contract():
    s = Settings.from_env(KEYED)
    assert (s.port, s.workers, s.max_batch) == (
        c.DEFAULT_PORT,
        c.DEFAULT_WORKERS,
        c.DEFAULT_MAX_BATCH,
    )
    assert s.cors_origins == DEFAULT_CORS
    assert "*" not in s.cors_origins


def test_keys_are_not_in_the_repr():
    assert PRIMARY not in repr(Settings.from_env(KEYED))


def test_values_are_parsed():
    s = Settings.from_env(
        {
            **KEYED,
            "AMLSTACK_PORT": "8000",
            "AMLSTACK_WORKERS": "3",
            "AMLSTACK_WORKER_CLASS": "GTHREAD",
            "AMLSTACK_CORS_ORIGINS": "http://a.example, https://b.example/",
            "AMLSTACK_ACCESS_LOG": "off",
            c.MODEL_DIR_ENV: "/models/x",
        }
    )
    assert (s.port, s.workers, s.worker_class, s.access_log) == (8000, 3, "gthread", False)
    assert s.cors_origins == ("http://a.example", "https://b.example")
    assert s.model_dir == Path("/models/x")


def test_relative_model_dir_resolves_against_azureml_model_dir():
    s = Settings.from_env({**KEYED, c.MODEL_DIR_ENV: "bank/1", "AZUREML_MODEL_DIR": "/var/azureml"})
    assert s.model_dir == Path("/var/azureml/bank/1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AMLSTACK_PORT", "http"),
        ("AMLSTACK_PORT", "70000"),
        ("AMLSTACK_WORKERS", "0"),
        ("AMLSTACK_WORKER_CLASS", "eventlet"),
        ("AMLSTACK_MAX_BATCH", "-5"),
        ("AMLSTACK_MAX_BATCH", "99999999999999999999999"),  # a worker boot traceback
        (c.AUTH_ENV, "maybe"),
        ("AMLSTACK_CORS_ORIGINS", "*"),
        ("AMLSTACK_CORS_ORIGINS", "localhost:8080"),
        ("AMLSTACK_GENERATE_KEYS", "perhaps"),
        (c.PRIMARY_KEY_ENV, "short"),
        ("AMLSTACK_HOST", "not a host"),  # gunicorn retried it, then "Can't connect to (...)"
        ("AMLSTACK_HOST", "999.1.1.1"),
        ("AMLSTACK_HOST", "http://0.0.0.0"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**KEYED, name: value})
    assert str(info.value).startswith(name)


def test_a_bad_key_is_not_echoed():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({c.PRIMARY_KEY_ENV: "tiny-secret"})
    assert "tiny-secret" not in str(info.value)


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(c.ENV_PREFIX)}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_wsgi_exits_with_one_line_naming_the_variable(scorer_artifact):
    env = {**KEYED, c.MODEL_DIR_ENV: str(scorer_artifact), "AMLSTACK_WORKERS": "many"}
    proc = _run("from amlstack_scorer.wsgi import build; build()", env)
    assert proc.returncode == 3  # gunicorn's worker boot error: the master stops
    assert "AMLSTACK_WORKERS" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wsgi_exits_cleanly_on_a_missing_artifact(tmp_path):
    env = {**KEYED, c.MODEL_DIR_ENV: str(tmp_path / "nope")}
    proc = _run("from amlstack_scorer.wsgi import build; build()", env)
    assert proc.returncode == 3
    assert "no such artifact directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_importing_wsgi_has_no_side_effects():
    proc = _run("import amlstack_scorer.wsgi", {})  # no settings at all: must not exit
    assert proc.returncode == 0, proc.stderr


def test_gunicorn_config_exits_naming_the_variable():
    conf = REPO / "scorer" / "amlstack_scorer" / "gunicorn_conf.py"
    code = f"import runpy; runpy.run_path({str(conf)!r})"
    proc = _run(code, {**KEYED, "AMLSTACK_THREADS": "lots"})
    assert proc.returncode != 0
    assert "AMLSTACK_THREADS" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_values_count_as_unset():
    # docker compose passes ${AMLSTACK_PRIMARY_KEY:-} as an empty string when .env has none.
    env = {c.PRIMARY_KEY_ENV: "", c.KEY_FILE_ENV: "/keys/keys.json", "AMLSTACK_WORKERS": ""}
    s = Settings.from_env(env)
    assert s.primary_key is None
    assert s.key_file == Path("/keys/keys.json")
    assert s.workers == c.DEFAULT_WORKERS


@pytest.mark.parametrize(
    "key",
    ["clé-secrète-0123456789", "0123456789abcdef\x00", "tab\tinside-0123456789", "秘密" * 9],
    ids=["accented", "nul", "tab", "cjk"],
)
def test_a_key_no_header_carries_alike_is_refused_naming_the_variable(key, tmp_path):
    """It was accepted, and then matched no client: curl sends 'é' as UTF-8, requests as
    Latin-1 (the scorer compared the header's Latin-1 text encoded as UTF-8)."""
    import json

    from amlstack_scorer.auth import read_key_file

    with pytest.raises(SettingsError, match=r"^AMLSTACK_PRIMARY_KEY: keys must be printable"):
        Settings.from_env({c.PRIMARY_KEY_ENV: key})
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"primaryKey": key}))
    with pytest.raises(SettingsError, match=r"^AMLSTACK_KEY_FILE: .*primaryKey: keys must be"):
        read_key_file(keys)


def test_a_key_with_blanks_inside_is_still_a_key():
    assert Settings.from_env({c.PRIMARY_KEY_ENV: "a key with blanks inside"}).primary_key


def test_gunicorn_config_names_a_metrics_folder_it_cannot_use(tmp_path):
    """It stopped with gunicorn's bare "Error: [Errno 17] File exists: '...'"."""
    conf = REPO / "scorer" / "amlstack_scorer" / "gunicorn_conf.py"
    a_file = tmp_path / "metrics"
    a_file.write_text("not a folder")
    code = f"import runpy; runpy.run_path({str(conf)!r})"
    proc = _run(code, {**KEYED, "PROMETHEUS_MULTIPROC_DIR": str(a_file)})
    assert proc.returncode != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={a_file}: not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("host", "bind"),
    [("::1", "[::1]:5001"), ("[::1]", "[::1]:5001"), ("0:0:0:0:0:0:0:1", "[0:0:0:0:0:0:0:1]:5001"),
     ("::", "[::]:5001"), ("127.0.0.1", "127.0.0.1:5001"), ("localhost", "localhost:5001")],
)  # fmt: skip
def test_gunicorn_binds_an_ipv6_address_in_brackets(tmp_path, host, bind):
    """`::1` bare failed ("'' is not a valid port number"); 0:0:0:0:0:0:0:1 bound every
    interface on a random port."""
    conf = REPO / "scorer" / "amlstack_scorer" / "gunicorn_conf.py"
    code = f"import runpy; print(runpy.run_path({str(conf)!r})['bind'])"
    env = {**KEYED, "AMLSTACK_HOST": host, "AMLSTACK_PORT": "5001",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}  # fmt: skip
    proc = _run(code, env)
    assert proc.stdout.strip() == repr([bind]), proc.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1", "::", "[::1]", "localhost", "scorer-1"])
def test_a_host_to_bind_is_an_address_or_a_name(host):
    assert Settings.from_env({**KEYED, "AMLSTACK_HOST": host}).host == host
