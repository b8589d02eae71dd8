"""The locustfile's workload and checks, against a real in-process scorer, and its verdict.

The checks live in loadtest/workload.py, imported here without Locust: importing Locust would
monkey-patch this whole test process with gevent. Locust itself runs in a subprocess below.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import sys
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner
from werkzeug.serving import make_server

from amlstack.artifact.manifest import manifest_for
from amlstack.artifact.reader import Model
from amlstack.commands import loadtest as loadtest_command
from amlstack_scorer.app import create_app
from amlstack_scorer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "bankmarketing_train.csv"
KEY = "locust-test-key-0123456789abcdef"


def _load_workload() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "amlstack_workload", ROOT / "loadtest/workload.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lf = _load_workload()


# -- a real scorer -----------------------------------------------------------------------------
def _fallback_artifact(directory: Path) -> Path:
    """A small logistic-regression artifact on the shipped CSV (when tiny_artifact is absent)."""
    import numpy as np
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(DATA, nrows=3000)
    target = frame.pop("y")
    features, columns = [], []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]):
            features.append({"name": name, "kind": "numeric", "dtype": "float"})
            columns.append(frame[name].to_numpy(dtype=np.float32))
        else:
            cats = sorted(frame[name].astype(str).unique())
            features.append({"name": name, "kind": "categorical", "categories": cats})
            columns.append(frame[name].map({c: i for i, c in enumerate(cats)}).to_numpy(np.float32))
    matrix = np.column_stack(columns)
    clf = LogisticRegression(max_iter=300).fit(matrix, target)
    onnx_model = convert_sklearn(
        clf,
        initial_types=[("X", FloatTensorType([None, matrix.shape[1]]))],
        options={id(clf): {"zipmap": False}},
    )
    (directory / "model.onnx").write_bytes(onnx_model.SerializeToString())
    meta = {
        "format": "amlstack-artifact", "format_version": 1, "name": "locust-test", "version": "1",
        "features": features, "classes": [str(c) for c in clf.classes_], "threshold": 0.5,
        "model": {"file": "model.onnx", "input": "X", "output": "probabilities"},
    }  # fmt: skip
    (directory / "model.json").write_text(json.dumps(meta))
    (directory / "MANIFEST.json").write_text(json.dumps(manifest_for(directory)))
    return directory


@pytest.fixture(scope="module")
def artifact(request, tmp_path_factory) -> Path:
    try:
        tiny = request.getfixturevalue("tiny_artifact")
    except pytest.FixtureLookupError:
        return _fallback_artifact(tmp_path_factory.mktemp("locust-artifact"))
    return Path(getattr(tiny, "directory", tiny))


@pytest.fixture(scope="module")
def client(artifact):
    app = create_app(Settings(primary_key=KEY), Model(artifact))
    return app.test_client()


@pytest.fixture(scope="module")
def workload():
    return lf.load_records(DATA, size=200, seed=7)


def _post(client, body: bytes, key: str = KEY):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    resp = client.post("/score", data=body, headers=headers)
    return resp.status_code, resp.get_json(silent=True)


# -- the workload --------------------------------------------------------------------------------
def test_records_are_a_reproducible_sample_without_the_target(workload):
    records, classes = workload
    assert classes == ["no", "yes"]
    assert len(records) == 200
    assert all("y" not in r for r in records)
    assert isinstance(records[0]["age"], int) and isinstance(records[0]["job"], str)
    assert isinstance(records[0]["euribor3m"], float)
    assert lf.load_records(DATA, size=200, seed=7)[0] == records


def test_the_scorer_answers_what_the_checks_expect(client, workload):
    records, classes = workload
    status, body = _post(client, json.dumps({"data": records[:1]}).encode())
    assert status == 200 and lf.check_scores(body, 1, classes) is None
    status, body = _post(client, json.dumps({"data": records[:50]}).encode())
    assert status == 200 and lf.check_scores(body, 50, classes) is None
    # The same answer is wrong for a different batch length.
    assert "expected 49 predictions" in lf.check_scores(body, 49, classes)


@pytest.mark.parametrize("kind", lf.INVALID_KINDS)
def test_invalid_requests_get_the_status_the_locustfile_expects(client, workload, kind):
    records, _ = workload
    name, body, expected = lf.invalid_request(random.Random(1), records[0], kind)
    assert name == kind
    status, answer = _post(client, body)
    assert lf.check_error(status, answer, expected) is None, (status, answer)


def test_a_wrong_key_is_answered_401(client, workload):
    records, _ = workload
    status, answer = _post(client, json.dumps({"data": records[:1]}).encode(), key="wrong-" * 4)
    assert lf.check_error(status, answer, 401) is None
    assert lf.check_error(200, answer, 401) == "expected HTTP 401, got 200"


# -- the checks catch wrong answers --------------------------------------------------------------
GOOD = {
    "predictions": ["no", "yes"],
    "probabilities": [{"no": 0.9, "yes": 0.1}, {"no": 0.2, "yes": 0.8}],
    "model": {"name": "m", "version": "1"},
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"predictions": ["no"]}, "expected 2 predictions"),
        ({"predictions": ["no", "maybe"]}, "label 'maybe'"),
        ({"probabilities": [{"no": 0.9, "yes": 0.1}]}, "expected 2 probability rows"),
        ({"probabilities": [{"no": 0.9, "yes": 0.1}, {"no": 0.2}]}, "do not name exactly"),
        ({"probabilities": [{"no": 0.9, "yes": 0.1}, {"no": 1.2, "yes": -0.2}]}, "in [0, 1]"),
        ({"probabilities": [{"no": 0.9, "yes": 0.1}, {"no": 0.5, "yes": 0.4}]}, "sum to"),
        ({"model": None}, "no model name/version"),
    ],
)
def test_wrong_answers_are_failures(change, problem):
    assert lf.check_scores(GOOD, 2, ["no", "yes"]) is None
    assert problem in lf.check_scores({**GOOD, **change}, 2, ["no", "yes"])


def test_an_error_answer_must_be_the_json_error_object():
    assert lf.check_error(422, {"error": {"message": "bad"}}, 422) is None
    assert "not {" in lf.check_error(422, "<html>", 422)
    assert "no message" in lf.check_error(422, {"error": {}}, 422)


def test_the_key_from_the_environment_wins_over_the_key_file(tmp_path):
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"primaryKey": "from-the-file-0123456789"}))
    assert lf.resolve_key({}, str(key_file)) == "from-the-file-0123456789"
    assert lf.resolve_key({"AMLSTACK_PRIMARY_KEY": "from-env-0123456789"}, str(key_file)) == (
        "from-env-0123456789"
    )
    with pytest.raises(RuntimeError, match="no scoring key"):
        lf.resolve_key({}, str(tmp_path / "missing.json"))


# -- the verdict ---------------------------------------------------------------------------------
def _stats(latencies_ms: list[float], failures: int = 0) -> SimpleNamespace:
    """Aggregated stats shaped like Locust's ``environment.stats.total``."""
    ordered = sorted(latencies_ms)
    requests = len(ordered) + failures

    def percentile(pct: float) -> float:
        return ordered[min(len(ordered) - 1, int(pct * len(ordered)))] if ordered else 0.0

    return SimpleNamespace(
        num_requests=requests,
        num_failures=failures,
        fail_ratio=failures / requests if requests else 0.0,
        get_response_time_percentile=percentile,
    )


def test_verdict_passes_within_thresholds_and_names_each_breach():
    thresholds = lf.Thresholds(max_fail_ratio=0.01, max_p95_ms=100, max_p99_ms=200)
    assert lf.verdict(_stats([10] * 100), thresholds) == []
    slow = lf.verdict(_stats([10] * 90 + [500] * 10), thresholds)
    assert [r.split()[0] for r in slow] == ["p95", "p99"]
    failing = lf.verdict(_stats([10] * 100, failures=5), thresholds)
    assert len(failing) == 1 and failing[0].startswith("failure ratio")
    assert lf.verdict(_stats([]), thresholds) == ["no requests were made"]


def test_locust_conf_sets_every_threshold():
    conf = (ROOT / "loadtest" / "locust.conf").read_text()
    for option in ("max-fail-ratio", "max-p95-ms", "max-p99-ms"):
        assert f"\n{option} = " in conf


# -- amlstack loadtest ---------------------------------------------------------------------------
def test_the_command_line_is_headless_with_reports_and_no_key(tmp_path):
    command = loadtest_command.locust_command(
        host="http://127.0.0.1:5001/", users=3, spawn_rate=1, run_time="5s", report_dir=tmp_path
    )
    assert "--headless" in command
    assert command[command.index("--host") + 1] == "http://127.0.0.1:5001"
    assert command[command.index("--html") + 1] == str(tmp_path / "report.html")
    assert not any(KEY in part for part in command)


@pytest.fixture
def live_scorer(artifact):
    """The real scorer app on a loopback port, in a thread, for the duration of one test."""
    app = create_app(Settings(primary_key=KEY), Model(artifact))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _cli() -> typer.Typer:
    app = typer.Typer()
    loadtest_command.register(app)
    app.command("noop", hidden=True)(lambda: None)  # keeps `loadtest` a sub-command
    return app


@pytest.mark.slow
@pytest.mark.parametrize(("key", "exit_code"), [(KEY, 0), ("wrong-key-0123456789abc", 1)])
def test_amlstack_loadtest_exits_with_the_verdict(live_scorer, tmp_path, key, exit_code):
    args = ["loadtest", "--host", live_scorer, "--key", key, "--users", "2", "--spawn-rate", "2"]
    # Long enough that Locust's start-up on a loaded machine still leaves time for requests.
    args += ["--run-time", "8s", "--report-dir", str(tmp_path)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == exit_code, result.output
    assert "/score" in (tmp_path / "report.html").read_text()
    # The verdict came from requests that were made, not from an empty run.
    with (tmp_path / "locust_stats.csv").open() as handle:
        aggregated = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    assert int(aggregated["Request Count"]) > 0


def test_amlstack_loadtest_without_a_key_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("AMLSTACK_PRIMARY_KEY", raising=False)
    result = CliRunner().invoke(_cli(), ["loadtest"])
    assert result.exit_code != 0
    assert "no scoring key" in str(result.exception)


def test_loadtest_runs_the_given_locustfile_with_its_conf_from_any_folder(tmp_path, monkeypatch):
    if importlib.util.find_spec("locust") is None:  # never imported here: it patches with gevent
        pytest.skip("locust is not installed")
    ran = []
    monkeypatch.setattr(
        loadtest_command.subprocess, "run", lambda command, **_: ran.append(command) or _Done()
    )
    monkeypatch.chdir(tmp_path)  # not a checkout: nothing is found relative to the package
    locustfile = ROOT / "loadtest" / "locustfile.py"
    result = CliRunner().invoke(_cli(), ["loadtest", "--key", KEY, "--locustfile", str(locustfile)])
    assert result.exit_code == 0, result.output
    command = ran[0]
    assert command[command.index("--locustfile") + 1] == str(locustfile)
    assert command[command.index("--config") + 1] == str(ROOT / "loadtest" / "locust.conf")

    result = CliRunner().invoke(_cli(), ["loadtest", "--key", KEY])
    assert result.exit_code != 0
    assert "no such locustfile" in str(result.exception) and "--locustfile" in str(result.exception)


class _Done:
    returncode = 0
