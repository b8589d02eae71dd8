"""Key authentication: every protected route, both keys, rotation, generated keys, no leaks."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat

import pytest
from scorer_support import PRIMARY, SECONDARY, make_settings

from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app
from amlstack_scorer.auth import KeyStore, generate_key_file
from amlstack_scorer.settings import Settings, SettingsError

PROTECTED = [("POST", c.SCORING_ROUTE), ("GET", c.METRICS_ROUTE)]
OPEN = [c.LIVENESS_ROUTE, c.READINESS_ROUTE, c.SWAGGER_ROUTE]


def call(client, method, route, headers, sample):
    if method == "POST":
        headers = {**headers, "Content-Type": "application/json"}
        return client.post(route, data=json.dumps({"data": sample[:1]}), headers=headers)
    return client.get(route, headers=headers)


@pytest.mark.parametrize(("method", "route"), PROTECTED, ids=[r for _, r in PROTECTED])
@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer wrong-key-0123456789abcdef", 401),
        (f"Basic {PRIMARY}", 401),
        (PRIMARY, 401),
        (f"Bearer {PRIMARY}", 200),
        (f"Bearer {SECONDARY}", 200),
        (f"bearer {SECONDARY}", 200),
    ],
    ids=["missing", "wrong", "basic-scheme", "no-scheme", "primary", "secondary", "lowercase"],
)
def test_protected_routes_need_a_valid_key(client, sample, method, route, header, status):
    headers = {"Authorization": header} if header else {}
    resp = call(client, method, route, headers, sample)
    assert resp.status_code == status
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.get_json()["error"]["code"] == "unauthorized"
        if header:
            assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize("route", OPEN)
def test_health_and_swagger_stay_open(client, route):
    assert client.get(route).status_code == 200


def test_auth_none_opens_scoring_and_warns(model, sample, caplog):
    with caplog.at_level(logging.WARNING, logger="amlstack"):
        app = create_app(Settings(auth="none"), model)
    assert "AUTHENTICATION IS OFF" in caplog.text
    assert call(app.test_client(), "POST", c.SCORING_ROUTE, {}, sample).status_code == 200


def test_no_keys_and_no_opt_out_refuses_to_start():
    with pytest.raises(SettingsError, match=c.AUTH_ENV):
        Settings.from_env({})


def write_keys(path, primary, secondary=None, bump=0):
    doc = {"primaryKey": primary}
    if secondary:
        doc["secondaryKey"] = secondary
    path.write_text(json.dumps(doc))
    if bump:  # a distinct mtime even on coarse-grained file systems
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump))


def test_key_file_rotation_takes_effect_without_restart(tmp_path, model, sample):
    keys = tmp_path / "keys.json"
    old, new = "old-primary-0123456789abcdef", "new-primary-0123456789abcdef"
    write_keys(keys, old, SECONDARY)
    app = create_app(Settings(key_file=keys), model)
    client = app.test_client()
    bearer = lambda k: {"Authorization": f"Bearer {k}"}  # noqa: E731
    assert call(client, "POST", c.SCORING_ROUTE, bearer(old), sample).status_code == 200
    write_keys(keys, new, SECONDARY, bump=10**9)
    app.extensions["amlstack"].keystore.force_check()  # skip the once-a-second throttle
    assert call(client, "POST", c.SCORING_ROUTE, bearer(old), sample).status_code == 401
    assert call(client, "POST", c.SCORING_ROUTE, bearer(new), sample).status_code == 200
    assert call(client, "POST", c.SCORING_ROUTE, bearer(SECONDARY), sample).status_code == 200


def test_mtime_change_alone_triggers_reload(tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys, PRIMARY)
    store = KeyStore(key_file=keys)
    store.check(f"Bearer {PRIMARY}")
    write_keys(keys, SECONDARY, bump=10**9)
    store._next_check = 0.0  # the throttle interval has passed
    store.check(f"Bearer {SECONDARY}")


def test_broken_key_file_keeps_the_previous_keys(tmp_path, caplog):
    keys = tmp_path / "keys.json"
    write_keys(keys, PRIMARY)
    store = KeyStore(key_file=keys)
    keys.write_text("{not json")
    store.force_check()
    with caplog.at_level(logging.ERROR, logger="amlstack"):
        store.check(f"Bearer {PRIMARY}")
    assert "keeping the previous keys" in caplog.text


def test_sighup_rereads_the_key_file(tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys, PRIMARY)
    store = KeyStore(key_file=keys)
    previous = signal.getsignal(signal.SIGHUP)
    try:
        store.install_sighup()
        store._next_check = float("inf")  # only the signal may trigger a reload now
        write_keys(keys, SECONDARY)
        os.kill(os.getpid(), signal.SIGHUP)
        store.check(f"Bearer {SECONDARY}")
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_generated_key_file_is_private_and_its_keys_are_never_logged(
    tmp_path, model, sample, caplog, capsys
):
    keys = tmp_path / "secrets" / "keys.json"
    settings = make_settings(primary_key=None, secondary_key=None, key_file=keys)
    settings = Settings(**{**settings.__dict__, "generate_keys": True})
    with caplog.at_level(logging.DEBUG):
        app = create_app(settings, model)
        doc = json.loads(keys.read_text())
        client = app.test_client()
        for key in (doc["primaryKey"], doc["secondaryKey"]):
            headers = {"Authorization": f"Bearer {key}"}
            assert call(client, "POST", c.SCORING_ROUTE, headers, sample).status_code == 200
        call(client, "POST", c.SCORING_ROUTE, {"Authorization": "Bearer nope"}, sample)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert len(doc["primaryKey"]) >= 32 and doc["primaryKey"] != doc["secondaryKey"]
    assert str(keys) in caplog.text
    logged = caplog.text + "".join(capsys.readouterr())
    for key in (doc["primaryKey"], doc["secondaryKey"]):
        assert key not in logged


def test_generate_does_not_overwrite_an_existing_key_file(tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys, PRIMARY)
    assert generate_key_file(keys) is False
    assert json.loads(keys.read_text()) == {"primaryKey": PRIMARY}


def test_no_key_in_any_log_line(model, sample, caplog, capsys):
    app = create_app(make_settings(), model)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        for header in (f"Bearer {PRIMARY}", f"Bearer {SECONDARY}", "Bearer wrong-key-012345678"):
            call(client, "POST", c.SCORING_ROUTE, {"Authorization": header}, sample)
            call(client, "GET", c.METRICS_ROUTE, {"Authorization": header}, sample)
    logged = caplog.text + "".join(capsys.readouterr())
    assert "request" in logged  # the access lines were captured
    for secret in (PRIMARY, SECONDARY, "wrong-key-012345678"):
        assert secret not in logged


def test_a_missing_key_file_names_its_variable(tmp_path):
    """It said only "[Errno 2] No such file or directory: '...'" (the stat before the read)."""
    path = tmp_path / "nowhere" / "keys.json"
    with pytest.raises(SettingsError) as info:
        KeyStore(key_file=path)
    assert str(info.value) == f"{c.KEY_FILE_ENV}: {path}: No such file or directory"
