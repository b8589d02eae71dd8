"""The locustfile's workload and checks, against a real in-process scorer, and its verdict.

The checks live in loadtest/workload.py, imported here without Locust: importing Locust would
monkey-patch this whole test process with gevent. Locust itself runs in a subprocess below.
"""

from __future__ import annotations

import ast
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
def _logistic_artifact(directory: Path, frame, target: str, name: str) -> Path:
    """A small logistic-regression artifact on ``frame`` (numeric ranges kept, as training does)."""
    import numpy as np
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    frame = frame.copy()
    labels = frame.pop(target)
    features, columns = [], []
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]):
            dtype = "int" if pd.api.types.is_integer_dtype(frame[column]) else "float"
            low, high = float(frame[column].min()), float(frame[column].max())
            features.append(
                {"name": column, "kind": "numeric", "dtype": dtype, "minimum": low, "maximum": high}
            )
            columns.append(frame[column].to_numpy(dtype=np.float32))
        else:
            cats = sorted(frame[column].astype(str).unique())
            features.append({"name": column, "kind": "categorical", "categories": cats})
            values = frame[column].map({c: i for i, c in enumerate(cats)})
            columns.append(values.to_numpy(np.float32))
    matrix = np.column_stack(columns)
    clf = LogisticRegression(max_iter=300).fit(matrix, labels)
    onnx_model = convert_sklearn(
        clf,
        initial_types=[("X", FloatTensorType([None, matrix.shape[1]]))],
        options={id(clf): {"zipmap": False}},
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.onnx").write_bytes(onnx_model.SerializeToString())
    meta = {
        "format": "amlstack-artifact", "format_version": 1, "name": name, "version": "1",
        "features": features, "classes": [str(c) for c in clf.classes_], "threshold": 0.5,
        "model": {"file": "model.onnx", "input": "X", "output": "probabilities"},
    }  # fmt: skip
    (directory / "model.json").write_text(json.dumps(meta))
    (directory / "MANIFEST.json").write_text(json.dumps(manifest_for(directory)))
    return directory


def _fallback_artifact(directory: Path) -> Path:
    """A bank-marketing artifact on the shipped CSV (when tiny_artifact is absent)."""
    import pandas as pd

    return _logistic_artifact(directory, pd.read_csv(DATA, nrows=3000), "y", "locust-test")


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


def _schema(client) -> dict:
    return client.get("/swagger.json").get_json()


@pytest.fixture(scope="module")
def workload(client):
    return lf.schema_workload(_schema(client), size=200, seed=7)


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """The README's "train on your own CSV" shape: no column in common with the bank data."""
    import pandas as pd

    rng = random.Random(3)
    rows = [
        {
            "tenure": rng.randint(1, 60),
            "plan": rng.choice(["basic", "plus", "pro"]),
            "monthly_fee": round(rng.uniform(5, 80), 2),
            "churned": rng.choice(["no", "yes"]),
        }
        for _ in range(300)
    ]
    directory = tmp_path_factory.mktemp("my-model") / "1"
    artifact = _logistic_artifact(directory, pd.DataFrame(rows), "churned", "my")
    return create_app(Settings(primary_key=KEY), Model(artifact)).test_client()


def _post(client, body: bytes, key: str = KEY):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    resp = client.post("/score", data=body, headers=headers)
    return resp.status_code, resp.get_json(silent=True)


# -- the workload --------------------------------------------------------------------------------
def test_records_are_built_from_the_served_models_schema(client, workload):
    doc = _schema(client)
    fields = doc["definitions"]["InputRecord"]["properties"]
    assert workload.classes == ["no", "yes"]
    assert len(workload.records) == 200
    assert workload.records[0] == {name: spec["example"] for name, spec in fields.items()}
    assert all(set(r) == set(fields) for r in workload.records)
    # The records vary over what training saw, and stay within it.
    assert len({r["job"] for r in workload.records}) > 3
    assert {r["job"] for r in workload.records} <= set(fields["job"]["x-training-categories"])
    ages = [r["age"] for r in workload.records]
    assert len(set(ages)) > 10 and all(isinstance(a, int | float) for a in ages)
    assert fields["age"]["x-training-minimum"] <= min(ages) <= max(ages)
    assert max(ages) <= fields["age"]["x-training-maximum"]
    assert lf.schema_workload(doc, size=200, seed=7) == workload  # reproducible


def test_a_csv_is_sampled_with_only_the_served_models_columns(client):
    sample = lf.csv_workload(DATA, _schema(client), size=200, seed=7)
    assert len(sample.records) == 200 and all("y" not in r for r in sample.records)
    assert isinstance(sample.records[0]["age"], int) and isinstance(sample.records[0]["job"], str)
    assert lf.csv_workload(DATA, _schema(client), size=200, seed=7) == sample
    status, body = _post(client, json.dumps({"data": sample.records[:50]}).encode())
    assert status == 200 and lf.check_scores(body, 50, sample.classes) is None


def test_the_scorer_answers_what_the_checks_expect(client, workload):
    records, classes = workload.records, workload.classes
    status, body = _post(client, json.dumps({"data": records[:1]}).encode())
    assert status == 200 and lf.check_scores(body, 1, classes) is None
    status, body = _post(client, json.dumps({"data": records[:50]}).encode())
    assert status == 200 and lf.check_scores(body, 50, classes) is None
    # The same answer is wrong for a different batch length.
    assert "expected 49 predictions" in lf.check_scores(body, 49, classes)


@pytest.mark.parametrize("kind", lf.INVALID_KINDS)
def test_invalid_requests_get_the_status_the_locustfile_expects(client, workload, kind):
    for seed in range(5):  # each seed breaks another field
        name, body, expected = lf.invalid_request(
            random.Random(seed), workload, workload.records[0], kind
        )
        assert name == kind
        status, answer = _post(client, body)
        assert lf.check_error(status, answer, expected) is None, (status, answer)


def test_another_models_load_fits_that_model(other_model):
    # Served with AMLSTACK_MODEL_DIR_BUILD=artifacts/my/1, Locust sent bank rows: "success"
    # from all-imputed records, and a 1e39 in a bank column was answered 200, not 422.
    workload = lf.schema_workload(_schema(other_model), size=100, seed=1)
    assert set(workload.records[0]) == {"tenure", "plan", "monthly_fee"}
    assert workload.classes == ["no", "yes"]
    status, body = _post(other_model, json.dumps({"data": workload.records[:50]}).encode())
    assert status == 200 and lf.check_scores(body, 50, workload.classes) is None
    rng = random.Random(0)
    for _ in range(30):
        kind, body, expected = lf.invalid_request(rng, workload, rng.choice(workload.records))
        status, answer = _post(other_model, body)
        assert lf.check_error(status, answer, expected) is None, (kind, status, answer)


def test_a_model_without_numeric_fields_is_not_sent_a_beyond_float32_number(workload):
    categorical = {k: v for k, v in workload.fields.items() if v.get("type") != "number"}
    only_text = lf.Workload(workload.records, workload.classes, categorical)
    assert "beyond-float32" not in lf.invalid_kinds(only_text)
    assert "beyond-float32" in lf.invalid_kinds(workload)


def test_a_wrong_key_is_answered_401(client, workload):
    body = json.dumps({"data": workload.records[:1]}).encode()
    status, answer = _post(client, body, key="wrong-" * 4)
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


def test_the_schema_is_fetched_from_the_scorer_in_one_line_errors(live_scorer, client):
    doc = lf.fetch_schema(live_scorer + "/", KEY)
    assert lf.schema_workload(doc, size=5).classes == ["no", "yes"]
    with pytest.raises(
        lf.served_schema.SchemaError, match=r"^.*/nowhere/swagger.json answered 404$"
    ):
        lf.fetch_schema(live_scorer + "/nowhere")


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


def test_the_locust_image_holds_what_the_workload_imports():
    # The image has no amlstack install: it copies served_schema.py, which must need only stdlib.
    dockerfile = (ROOT / "loadtest" / "Dockerfile").read_text()
    assert "services/amlstack/served_schema.py /loadtest/amlstack/" in dockerfile
    tree = ast.parse((ROOT / "services" / "amlstack" / "served_schema.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names)
