"""Drift: the scorer's live profile vs the training profile flags exactly the shifted features."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import tiny_trainer
from prometheus_client import generate_latest

from amlstack.artifact.reader import Model
from amlstack.errors import ExternalError
from amlstack.pipeline import drift
from amlstack_scorer.drift import LiveProfile

REPO = Path(__file__).resolve().parents[3]
SHIFTED = {"age", "month"}
LIVE_ROWS = 3000


def shift(frame: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """An older customer mix, called in the winter months: only ``age`` and ``month`` change."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["age"] = rng.integers(58, 90, len(out))
    out["month"] = rng.choice(["dec", "mar", "oct", "sep"], len(out))
    return out


@pytest.fixture(scope="module")
def split(bank):
    """Disjoint training and live samples of the shipped data."""
    shuffled = bank.sample(frac=1.0, random_state=11).reset_index(drop=True)
    return shuffled.iloc[:5000], shuffled.iloc[5000 : 5000 + LIVE_ROWS]


@pytest.fixture(scope="module")
def artifact(split, tmp_path_factory) -> Path:
    return tiny_trainer.write_artifact(split[0], "y", tmp_path_factory.mktemp("art"), "bank")


def live_report(artifact: Path, frame: pd.DataFrame) -> dict:
    """Observe ``frame`` as the scorer does (encoded matrix), export, parse, compare."""
    model = Model(artifact)
    training = drift.read_training_profile(artifact)
    live = LiveProfile(training["features"], model.feature_names)
    columns = {n: frame[n].to_numpy(dtype=object) for n in model.feature_names}
    matrix = model.encode_columns(columns)
    for start in range(0, len(matrix), 250):  # request-sized batches
        chunk = matrix[start : start + 250]
        live.observe(chunk, len(chunk))
    text = generate_latest(live.registry).decode()
    counts = drift.live_counts(drift.parse_metrics(text), training["features"])
    return drift.compare(training, counts)


def test_unshifted_traffic_flags_nothing(artifact, split):
    report = live_report(artifact, split[1])
    assert report["drifted"] == []
    assert report["rows"] == LIVE_ROWS
    assert max(r["psi"] for r in report["features"].values()) < 0.05


def test_shifted_traffic_flags_exactly_the_shifted_features(artifact, split):
    report = live_report(artifact, shift(split[1]))
    assert set(report["drifted"]) == SHIFTED
    assert report["features"]["age"]["test"] == "ks"
    assert report["features"]["month"]["test"] == "chi2"
    assert report["features"]["month"]["largest_shift"]["category"] in {"may", "dec", "mar"}


def test_few_rows_are_not_judged(artifact, split):
    report = live_report(artifact, shift(split[1]).head(50))
    assert report["drifted"] == []
    assert "not judged" in report["features"]["age"]["note"]
    age = next(line for line in drift.render_text(report) if " age " in line)
    assert age.startswith("-") and "not judged" in age  # not "ok": nothing was judged


def test_a_numeric_feature_now_half_missing_is_drift(artifact, split):
    # The present ages are as in training (KS sees nothing); half of them are gone.
    frame = split[1].copy()
    frame["age"] = frame["age"].astype(float).mask(np.arange(len(frame)) % 2 == 0)
    report = live_report(artifact, frame)
    assert report["drifted"] == ["age"]
    assert report["features"]["age"]["missing_shift"] == pytest.approx(0.5)
    age = next(line for line in drift.render_text(report) if " age " in line)
    assert age.startswith("DRIFT") and "missing +50.0%" in age


def test_new_data_is_compared_in_the_same_bins(artifact, split):
    training = drift.read_training_profile(artifact)
    report = drift.compare(training, drift.frame_counts(shift(split[1]), training))
    assert set(report["drifted"]) == SHIFTED


def test_unseen_categories_count_as_their_own_bin(artifact, split):
    frame = split[1].copy()
    frame["job"] = "astronaut"
    report = live_report(artifact, frame)
    assert "job" in report["drifted"]
    assert report["features"]["job"]["largest_shift"]["category"] == "__unseen__"


def _replica_samples(artifact: Path, frame: pd.DataFrame) -> list:
    """One scorer replica's parsed /metrics after it scored ``frame``."""
    model = Model(artifact)
    live = LiveProfile(drift.read_training_profile(artifact)["features"], model.feature_names)
    matrix = model.encode_columns({n: frame[n].to_numpy(dtype=object) for n in model.feature_names})
    live.observe(matrix, len(matrix))
    return drift.parse_metrics(generate_latest(live.registry).decode())


@contextlib.contextmanager
def loopback(answer):
    """An HTTP server on loopback whose every GET is ``answer(path)`` -> (status, JSON body);
    yields its URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def prometheus_api(vector: list[dict], queries: list):
    """Prometheus's instant-query endpoint on loopback, answering ``vector`` (its URL)."""
    from urllib.parse import parse_qs, urlparse

    def answer(path: str) -> tuple[int, dict]:
        url = urlparse(path)
        queries.append((url.path, parse_qs(url.query)["query"][0]))
        return 200, {"status": "success", "data": {"resultType": "vector", "result": vector}}

    return loopback(answer)


def test_prometheus_counts_every_replica_behind_a_proxy(artifact, split):
    """Two replicas each scored half of the shifted rows. Through a balancer /metrics is one of
    them; Prometheus's `sum by (feature, bin)` over both (computed here as Prometheus does, and
    served on its HTTP API's shape) gives all the rows, and the drift the whole traffic shows."""
    half = LIVE_ROWS // 2
    shifted = shift(split[1])
    summed: dict[tuple[str, str], float] = {}
    for frame in (shifted.iloc[:half], shifted.iloc[half:]):
        for name, labels, value in _replica_samples(artifact, frame):
            if name == f"{drift.BIN_METRIC}_total":
                key = (labels["feature"], labels["bin"])
                summed[key] = summed.get(key, 0.0) + value
    vector = [
        {"metric": {"feature": f, "bin": b}, "value": [0, str(v)]} for (f, b), v in summed.items()
    ]
    queries: list = []
    training = drift.read_training_profile(artifact)
    with prometheus_api(vector, queries) as prometheus:
        live = drift.fetch_live("http://127.0.0.1:9", None, training, prometheus=prometheus)
    assert queries == [("/api/v1/query", drift.LIVE_BINS_QUERY)]
    report = drift.compare(training, live)
    assert report["rows"] == LIVE_ROWS
    assert set(report["drifted"]) == SHIFTED


def test_an_empty_or_unreachable_prometheus_is_named_not_read_as_no_drift(artifact):
    training = drift.read_training_profile(artifact)
    empty = pytest.raises(ExternalError, match="holds no amlstack_feature_bin_total yet")
    with prometheus_api([], []) as prometheus, empty:
        drift.fetch_live_prometheus(prometheus, training)
    with pytest.raises(ExternalError, match=r"cannot query Prometheus at http://127\.0\.0\.1:9"):
        drift.fetch_live_prometheus("http://127.0.0.1:9", training, timeout=2)


# -- against a real multi-worker scorer -------------------------------------------------------
KEY = "pipeline-drift-test-key-0123456789"
READY_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scorer(artifact, tmp_path):
    """gunicorn with 2 workers on loopback, serving the tiny artifact; stopped afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "AMLSTACK_MODEL_DIR": str(artifact),
        "AMLSTACK_PRIMARY_KEY": KEY,
        "AMLSTACK_HOST": "127.0.0.1",
        "AMLSTACK_PORT": str(port),
        "AMLSTACK_WORKERS": "2",
        "AMLSTACK_GRACEFUL_TIMEOUT": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    env.pop("AMLSTACK_KEY_FILE", None)
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:amlstack_scorer.gunicorn_conf"],
        cwd=REPO / "scorer",
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S  # generous: the machine may be busy
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"scorer exited: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}")
            try:
                if requests.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"scorer not ready: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _send(url: str, frame: pd.DataFrame, features: list[str]) -> None:
    records = json.loads(frame[features].to_json(orient="records"))
    headers = {"Authorization": f"Bearer {KEY}"}
    for start in range(0, len(records), 200):  # 15 requests at most
        body = {"data": records[start : start + 200]}
        response = requests.post(url + "/score", json=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text[:300]


def _drift_cli(url: str, artifact: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "amlstack.cli", "drift", "--url", url, "--key", KEY,
         "--model", str(artifact), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_drift_command_against_gunicorn_flags_the_shifted_features(scorer, artifact, split):
    _send(scorer, shift(split[1]), Model(artifact).feature_names)
    for _attempt in range(5):  # workers hand buffered rows over within a second; wait for both
        done = _drift_cli(scorer, artifact)
        report = json.loads(done.stdout)
        if report["rows"] >= LIVE_ROWS:
            break
        time.sleep(1)
    assert done.returncode == 1, done.stderr
    assert set(report["drifted"]) == SHIFTED
    assert report["rows"] == LIVE_ROWS  # both workers' counts, summed


@pytest.mark.slow
def test_drift_command_against_gunicorn_passes_unshifted_traffic(scorer, artifact, split):
    _send(scorer, split[1], Model(artifact).feature_names)
    done = _drift_cli(scorer, artifact)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert json.loads(done.stdout)["drifted"] == []


@pytest.mark.slow
def test_drift_command_needs_only_the_url_and_key(scorer, artifact, split, tmp_path):
    """Without --model (and no registry) the training profile comes from the scorer's /profile."""
    _send(scorer, split[1], Model(artifact).feature_names)
    done = subprocess.run(
        [sys.executable, "-m", "amlstack.cli", "drift", "--url", scorer, "--key", KEY, "--json"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert json.loads(done.stdout)["drifted"] == []


@pytest.mark.slow
def test_drift_command_needs_the_key(scorer, artifact):
    done = subprocess.run(
        [sys.executable, "-m", "amlstack.cli", "drift", "--url", scorer,
         "--key", "wrong-key-wrong-key", "--model", str(artifact)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert "refused the key (HTTP 401): give the scoring key with --key or $AMLSTACK_KEY" in (
        " ".join(done.stderr.split())
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("status", "key"), [(401, "wrong-key-0123456789"), (403, None)])
def test_a_refused_key_ends_a_drift_gated_run_naming_the_variable_and_no_resume(
    artifact, bank, tmp_path, monkeypatch, capsys, status, key
):
    """A wrong key ended with `--key or $AMLSTACK_KEY` (pipeline run has no --key) and a
    resume hint, which would only run the first stage again."""
    from amlstack.cli import main
    from amlstack.pipeline import stages
    from amlstack.pipeline.registry import Registry

    registry = Registry(tmp_path / "registry", "bank")
    registry.promote(registry.register(artifact, lineage={})["version"])
    data = tmp_path / "new.csv"
    bank.head(300).to_csv(data, index=False)
    if key:
        monkeypatch.setenv(stages.KEY_ENV, key)
    else:
        monkeypatch.delenv(stages.KEY_ENV, raising=False)
    folders = ["--runs", str(tmp_path / "runs"), "--registry", str(tmp_path / "registry")]
    refused = pytest.raises(SystemExit)
    with loopback(lambda path: (status, {"error": "unauthorized"})) as url, refused as info:
        main(["pipeline", "run", "--data", str(data), "--if-drift", url, *folders])
    err = " ".join(capsys.readouterr().err.split())
    what = "refused the key" if key else "needs a key, and none was given"
    assert info.value.code == 3
    assert f"{url}/profile {what} (HTTP {status}): give the scoring key with $AMLSTACK_KEY" in err
    assert "resume" not in err and "--key" not in err and "Traceback" not in err


def _drift_gated_run(scorer, artifact, bank, tmp_path, monkeypatch) -> dict:
    from amlstack.pipeline import stages
    from amlstack.pipeline.registry import Registry

    registry = Registry(tmp_path / "registry", "bank")
    registry.promote(registry.register(artifact, lineage={})["version"])
    data = tmp_path / "new.csv"
    bank.tail(3000).to_csv(data, index=False)
    monkeypatch.setenv(stages.KEY_ENV, KEY)
    config = stages.RunConfig(
        data=str(data), name="bank", runs=str(tmp_path / "runs"),
        registry=str(tmp_path / "registry"), artifacts=str(tmp_path / "artifacts"),
        drift_url=scorer,
    )  # fmt: skip
    return stages.run_pipeline(stages.create_run(config), trainer=tiny_trainer.trainer)


@pytest.mark.slow
def test_pipeline_started_by_drift_skips_when_nothing_drifted(
    scorer, artifact, split, bank, tmp_path, monkeypatch
):
    _send(scorer, split[1], Model(artifact).feature_names)
    record = _drift_gated_run(scorer, artifact, bank, tmp_path, monkeypatch)
    assert record["status"] == "skipped"
    assert record["stages"] == {"drift": "done"}
    assert "no feature drifted" in record["decision"]["reasons"][0]


@pytest.mark.slow
def test_pipeline_started_by_drift_retrains_when_features_drifted(
    scorer, artifact, split, bank, tmp_path, monkeypatch
):
    _send(scorer, shift(split[1]), Model(artifact).feature_names)
    record = _drift_gated_run(scorer, artifact, bank, tmp_path, monkeypatch)
    assert record["status"] == "done"
    assert list(record["stages"]) == ["drift", "validate_data", "train", "evaluate", "gate",
                                      "register", "deploy"]  # fmt: skip
    drift_result = json.loads(
        (tmp_path / "runs" / record["run_id"] / "drift" / "result.json").read_text()
    )
    assert set(drift_result["drifted"]) == SHIFTED


@pytest.mark.parametrize(
    ("option", "value"),
    [("threshold", float("nan")), ("threshold", float("inf")), ("threshold", -1.0),
     ("alpha", 0.0), ("alpha", float("nan")), ("alpha", 2.0)],
)  # fmt: skip
def test_a_setting_that_would_switch_detection_off_is_refused(artifact, split, option, value):
    """PSI 8 read as no drift, exit 0, with --threshold nan or --alpha 0."""
    from amlstack.errors import UserError

    training = drift.read_training_profile(artifact)
    live = drift.frame_counts(shift(split[1]), training)
    with pytest.raises(UserError, match=f"--{option} "):
        drift.compare(training, live, **{option: value})


def test_drift_says_not_judged_when_no_feature_had_rows_enough(
    artifact, split, monkeypatch, capsys
):
    """It said "no drift" for 50 rows, a verdict nothing had been judged for."""
    from amlstack.cli import main

    training = drift.read_training_profile(artifact)
    few = drift.frame_counts(shift(split[1]).head(50), training)
    monkeypatch.setattr(drift, "fetch_live", lambda *args, **kwargs: few)
    monkeypatch.setattr(drift, "fetch_training_profile", lambda *args, **kwargs: training)
    with pytest.raises(SystemExit) as info:
        main(["drift", "--url", "http://127.0.0.1:9", "--model", str(artifact)])
    assert info.value.code in (0, None)
    assert "not judged: too few live rows" in " ".join(capsys.readouterr().out.split())


def test_another_models_profile_is_refused_not_read_as_drift(artifact, monkeypatch, capsys):
    """--model with another version of the model: the live counts are in the served model's
    bins, and edges moved by one year of age read as DRIFT (psi 3.8), exit 1."""
    import copy

    from amlstack.cli import main

    training = drift.read_training_profile(artifact)
    served = copy.deepcopy(training)
    served["features"]["age"]["edges"][1] += 1
    monkeypatch.setattr(drift, "fetch_training_profile", lambda *args, **kwargs: served)
    with pytest.raises(SystemExit) as info:
        main(["drift", "--url", "http://127.0.0.1:9", "--model", str(artifact)])
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and f"--model {artifact}: feature 'age' is not binned" in err


def test_an_edited_training_profile_is_refused_not_compared(artifact, tmp_path):
    """drift read profile.json as it lay: an edited one changed the verdict silently."""
    import shutil

    from amlstack.errors import UserError

    copy = tmp_path / "bank"
    shutil.copytree(artifact, copy)
    profile = json.loads((copy / "profile.json").read_text())
    profile["features"]["age"]["counts"] = [0 for _ in profile["features"]["age"]["counts"]]
    (copy / "profile.json").write_text(json.dumps(profile))
    with pytest.raises(UserError, match=r"profile\.json"):
        drift.read_training_profile(copy)


def test_a_key_no_header_carries_is_named_before_anything_is_sent(capsys):
    """drift with `--key clé...` exited 3 with a codec message naming no option."""
    from amlstack.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["drift", "--url", "http://127.0.0.1:9", "--key", "clé-0123456789abcdef"])
    code, err = exit_info.value.code, " ".join(capsys.readouterr().err.split())
    assert code == 2 and "--key or $AMLSTACK_KEY: keys must be printable ASCII" in err
    assert "clé" not in err


def test_a_drift_gated_run_names_a_key_no_header_carries_before_it_starts(
    tmp_path, monkeypatch, capsys
):
    """It was named as `--key (or $AMLSTACK_KEY)`, which pipeline run does not have, after the
    run folder was made, with a resume hint."""
    from amlstack.cli import main
    from amlstack.pipeline import stages

    data = tmp_path / "new.csv"
    data.write_text(
        "age,y\n" + "".join(f"{20 + i},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    )
    monkeypatch.setenv(stages.KEY_ENV, "clé-0123456789abcdef")
    runs = tmp_path / "runs"
    folders = ["--runs", str(runs), "--registry", str(tmp_path / "registry")]
    with pytest.raises(SystemExit) as info:
        main(["pipeline", "run", "--data", str(data), "--if-drift", "http://127.0.0.1:9", *folders])
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and "$AMLSTACK_KEY: keys must be printable ASCII" in err
    assert "--key" not in err and "resume" not in err and "clé" not in err
    assert not runs.exists() or not any(runs.iterdir())
