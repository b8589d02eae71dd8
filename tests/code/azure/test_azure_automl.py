"""`train --backend azure`: job submission through the recorder, and the ONNX -> artifact step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from azure_recorder import AzureState, Recorder
from fake_automl import DATA, automl_like_onnx

from amlstack.artifact.names import AUC_WEIGHTED
from amlstack.artifact.reader import Model
from amlstack.azure import automl
from amlstack.azure.workspace import Workspace
from amlstack.errors import DataError, ExternalError

WS = Workspace("sub", "rg", "ws")


def automl_probabilities(onnx_path: Path, frame: pd.DataFrame) -> np.ndarray:
    """What the untouched AutoML-style model says, fed column by column as AutoML expects."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {}
    for inp, column in zip(session.get_inputs(), frame.columns, strict=True):
        values = frame[column].to_numpy().reshape(-1, 1)
        if inp.type == "tensor(string)":
            feeds[inp.name] = values.astype(str).astype(object)
        elif inp.type == "tensor(int64)":
            feeds[inp.name] = values.astype(np.int64)
        else:
            feeds[inp.name] = values.astype(np.float32)
    zipmaps = session.run(None, feeds)[1]
    return np.array([[row["no"], row["yes"]] for row in zipmaps], dtype=np.float32)


def test_adapted_model_answers_exactly_like_the_automl_model(
    automl_onnx: Path, azure_artifact: Path
) -> None:
    model = Model(azure_artifact)
    assert model.classes == ["no", "yes"]
    frame = pd.read_csv(DATA, skiprows=range(1, 2001), nrows=300).drop(columns=["y"])
    records = frame.to_dict(orient="records")
    records[0]["job"] = "astronaut"  # never seen in training: code -1 on our side
    frame.loc[0, "job"] = "astronaut"
    ours = model.predict_proba(model.encode_records(records))
    theirs = automl_probabilities(automl_onnx, frame)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert ours.shape == (300, 2) and 0.0 < ours[:, 1].mean() < 1.0


def test_artifact_has_schema_sample_profile_and_lineage(azure_artifact: Path) -> None:
    model = Model(azure_artifact)
    by_name = {f.name: f for f in model.features}
    assert by_name["job"].kind == "categorical" and "admin." in by_name["job"].categories
    assert by_name["age"].kind == "numeric" and by_name["age"].dtype == "int"
    assert "y" not in by_name
    assert len(model.sample_input()) == automl.SAMPLE_ROWS
    assert set(model.files) >= {"model.onnx", "model.json", "profile.json", "sample_input.json"}
    assert model.meta["model"]["kind"] == "azure-automl"
    assert all(isinstance(r["age"], int) for r in model.sample_input())


def test_class_order_follows_the_zipmap_labels(tmp_path: Path) -> None:
    """A model whose probability columns come in another order is re-ordered to `classes`."""
    import onnx

    from amlstack.azure import onnx_adapter
    from amlstack.training.data import load_dataset

    path = automl_like_onnx(tmp_path / "m.onnx", rows=800)
    graph = onnx.load(str(path))
    features = load_dataset(DATA, "y").features
    columns = [onnx_adapter.Column(f["name"], tuple(f.get("categories", ()))) for f in features]
    with pytest.raises(DataError, match="differ"):
        onnx_adapter.adapt(graph, columns, ["maybe", "no"])
    assert onnx_adapter._class_order(["yes", "no"], ["no", "yes"]) == [1, 0]
    assert onnx_adapter._class_order(["no", "yes"], ["no", "yes"]) is None


def test_submit_automl_streams_status_downloads_best_model_and_writes_artifact(
    automl_onnx: Path, tmp_path: Path
) -> None:
    state = AzureState(
        jobs={"automl-1": ["Queued", "Running", "Completed"], "automl-1_3": ["Completed"]},
        downloads={"automl-1_3": automl_onnx.read_bytes()},
    )
    rec = Recorder(state)
    lines: list[str] = []
    path = automl.submit_automl(
        DATA,
        "y",
        out=tmp_path / "artifacts",
        name="bankmarketing",
        workspace=WS,
        clients=rec,
        progress=lines.append,
        poll_s=0,
    )
    assert path == tmp_path / "artifacts" / "bankmarketing" / "1"
    assert rec.names() == [
        "ml_client",
        "jobs.create_or_update",
        "jobs.get",
        "jobs.get",
        "jobs.get",
        "jobs.get",
        "jobs.download",
    ]
    assert rec.calls[-1] == ("jobs.download", "automl-1_3")
    job = rec.entities[0]
    assert type(job).__name__ == "ClassificationJob"
    assert job.training.enable_onnx_compatible_models is True
    assert [ln.split(": ")[-1] for ln in lines[1:]] == ["Queued", "Running", "Completed"]
    model = Model(path)
    assert model.meta["metrics"]["azure"] == {AUC_WEIGHTED: 0.93}  # the metric vocabulary
    assert model.meta["training"]["best_run"] == "automl-1_3"
    assert model.meta["version"] == 1


def test_failed_job_writes_nothing(automl_onnx: Path, tmp_path: Path) -> None:
    rec = Recorder(AzureState(jobs={"automl-1": ["Running", "Failed"]}))
    with pytest.raises(ExternalError, match="ended Failed"):
        automl.submit_automl(
            DATA, "y", out=tmp_path / "a", name="m", workspace=WS, clients=rec, poll_s=0
        )
    assert "jobs.download" not in rec.names()
    assert not (tmp_path / "a" / "m").exists()


def test_train_on_azure_without_credential_writes_the_job_and_submits_nothing(
    tmp_path: Path, no_credential: None
) -> None:
    from azure.ai.ml import load_job

    lines: list[str] = []
    result = automl.train_on_azure(
        DATA, "y", out=tmp_path, name="m", workspace=WS, progress=lines.append
    )
    assert result is None
    assert "dry run" in lines[0]
    job = load_job(tmp_path / "azure-automl-job" / "job.yml")
    assert job.training.enable_onnx_compatible_models is True
    assert not (tmp_path / "m").exists()


def _submit(rec: Recorder, tmp_path: Path) -> Path:
    return automl.submit_automl(
        DATA, "y", out=tmp_path / "artifacts", name="m", workspace=WS, clients=rec, poll_s=0
    )


def test_a_run_without_an_onnx_model_is_one_clear_error(
    automl_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake writes outputs/model.onnx only for a job that asked for ONNX-compatible models."""
    from amlstack.azure import specs

    state = AzureState(
        jobs={"automl-1": ["Completed"], "automl-1_3": ["Completed"]},
        downloads={"automl-1_3": automl_onnx.read_bytes()},
    )
    rec = Recorder(state)
    real_spec = specs.automl_job_spec

    def without_onnx(*args, **kwargs):
        doc = real_spec(*args, **kwargs)
        doc["training"]["enable_onnx_compatible_models"] = False
        return doc

    monkeypatch.setattr(specs, "automl_job_spec", without_onnx)
    with pytest.raises(ExternalError, match=r"has no outputs/model.onnx.*enable_onnx"):
        _submit(rec, tmp_path)
    assert not (tmp_path / "artifacts" / "m").exists()


def test_an_onnx_file_elsewhere_is_not_taken_for_the_model(tmp_path: Path) -> None:
    """Only the documented place counts; anything else is named in the error."""

    class Jobs:
        def download(self, *, name: str, download_path: str, all: bool) -> None:
            stray = Path(download_path) / "named-outputs" / "mlflow-model" / "model.onnx"
            stray.parent.mkdir(parents=True)
            stray.write_bytes(b"")

    ml = type("ML", (), {"jobs": Jobs()})()
    with pytest.raises(ExternalError, match=r"elsewhere: named-outputs/mlflow-model/model\.onnx"):
        automl.download_onnx(ml, "run-1", tmp_path)


def test_the_download_layout_is_the_documented_one(automl_onnx: Path, tmp_path: Path) -> None:
    state = AzureState(jobs={"automl-1_3": ["Completed"]}, downloads={"automl-1_3": b"onnx"})
    rec = Recorder(state)
    rec.ml.jobs.download(name="automl-1_3", download_path=str(tmp_path), all=True)
    assert (tmp_path / "artifacts" / "outputs" / "mlflow-model" / "MLmodel").is_file()
    assert not (tmp_path / automl.ONNX_IN_DOWNLOAD).exists()  # no ONNX job was submitted


def test_a_column_with_many_values_scores_as_the_automl_model_does(tmp_path: Path) -> None:
    """Local training frequency-encodes a text column of more than 1,000 values; the artifact
    card kept that encoding, so the scorer sent a share of rows that the adapter decoded as a
    category code: every row read as the first category (probabilities off by up to 0.5)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from amlstack.training.columns import MAX_CATEGORIES

    rng = np.random.default_rng(0)
    shops = [f"shop{i:04d}" for i in range(MAX_CATEGORIES + 200)]
    effect = dict(zip(shops, rng.normal(size=len(shops)) * 3, strict=True))
    shop = np.array(shops * 2)
    x = rng.normal(size=len(shop))
    yes = rng.random(len(shop)) < 1 / (1 + np.exp(-(np.array([effect[s] for s in shop]) + x)))
    frame = pd.DataFrame({"shop": shop, "x": x, "y": np.where(yes, "yes", "no")})
    data = tmp_path / "shops.csv"
    frame.to_csv(data, index=False)
    encode = ColumnTransformer(
        [("c", OneHotEncoder(handle_unknown="ignore"), ["shop"]), ("n", "passthrough", ["x"])]
    )
    pipe = Pipeline([("prep", encode), ("clf", LogisticRegression(max_iter=300))])
    pipe.fit(frame[["shop", "x"]], frame["y"])
    types = [("shop", StringTensorType([None, 1])), ("x", FloatTensorType([None, 1]))]
    options = {id(pipe.steps[-1][1]): {"zipmap": True}}
    onnx_model = convert_sklearn(
        pipe, initial_types=types, options=options, target_opset={"": 17, "ai.onnx.ml": 3}
    )
    onnx_path = tmp_path / "model.onnx"
    onnx_path.write_bytes(onnx_model.SerializeToString())
    lineage = automl.AzureLineage(job="j", best_run="j_1", workspace="ws")
    artifact = automl.write_artifact(
        onnx_path, data, "y", out=tmp_path / "out", name="shops", metrics={}, lineage=lineage
    )
    model = Model(artifact)
    rows = frame.drop(columns=["y"]).head(200)
    ours = model.predict_proba(model.encode_records(rows.to_dict(orient="records")))
    np.testing.assert_allclose(ours, automl_probabilities(onnx_path, rows), atol=1e-5)


def test_the_job_drops_the_columns_the_artifact_schema_leaves_out(tmp_path: Path) -> None:
    """AutoML's ONNX takes every column the job trained on as an input; amlstack's schema drops
    identifiers, row numbers and constant columns, so the import after the job failed with
    "AutoML model input 'customer_id' matches no column". The job now drops them too."""
    import yaml

    from amlstack.training.data import load_dataset

    frame = pd.read_csv(DATA, nrows=300)
    frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(len(frame))])
    frame.insert(1, "row", range(1, len(frame) + 1))
    frame["constant"] = "x"
    data = tmp_path / "ids.csv"
    frame.to_csv(data, index=False)
    job = automl.automl_job_spec(data, "y", tmp_path / "job", drop=("duration",))
    mltable = yaml.safe_load((job.parent / "training-data" / "MLTable").read_text())
    dropped = next(s["drop_columns"] for s in mltable["transformations"] if "drop_columns" in s)
    assert dropped == ["duration", "customer_id", "row", "constant"]
    trained_on = [c for c in frame.columns if c not in dropped and c != "y"]
    features = load_dataset(data, "y", ("duration",)).features
    assert trained_on == [f["name"] for f in features]


def test_the_job_drops_columns_by_the_header_s_names_and_refuses_an_unnamed_one(
    tmp_path: Path,
) -> None:
    """The MLTable's drop_columns took amlstack's names, not the header's: `"` became `'`, `\\`
    became `/`, and an empty header cell (the row index pandas' to_csv() writes) `Unnamed: 0`,
    names the file has no column for. They are the header's now; a column with no name cannot be
    named in the MLTable, so the job is refused before anything is written."""
    import yaml

    frame = pd.read_csv(DATA, nrows=300)
    frame.insert(0, 'customer "id"', [f"C{i:05d}" for i in range(len(frame))])
    frame.insert(1, "row\\no", range(1, len(frame) + 1))
    data = tmp_path / "quoted.csv"
    frame.to_csv(data, index=False)
    job = automl.automl_job_spec(data, "y", tmp_path / "job")
    mltable = yaml.safe_load((job.parent / "training-data" / "MLTable").read_text())
    dropped = next(s["drop_columns"] for s in mltable["transformations"] if "drop_columns" in s)
    assert dropped == ['customer "id"', "row\\no"]
    assert set(dropped) <= set(pd.read_csv(data, nrows=0).columns)  # as MLTable reads them

    indexed = tmp_path / "indexed.csv"
    pd.read_csv(DATA, nrows=300).to_csv(indexed)  # index=True: a first column with no name
    with pytest.raises(DataError, match=r"indexed\.csv: column 1 has no name .*name it, or remove"):
        automl.automl_job_spec(indexed, "y", tmp_path / "indexed-job")
    assert not (tmp_path / "indexed-job").exists()


def test_the_automl_card_lists_every_column_the_job_dropped(
    automl_onnx: Path, tmp_path: Path
) -> None:
    """The job drops the columns the schema leaves out as well as --drop's, but the AutoML card's
    dropped_columns listed only --drop's (a local card lists both)."""
    import json

    frame = pd.read_csv(DATA, nrows=1500)
    frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(len(frame))])
    data = tmp_path / "ids.csv"
    frame.to_csv(data, index=False)
    lineage = automl.AzureLineage(job="j", best_run="j_1", workspace="ws")
    artifact = automl.write_artifact(
        automl_onnx, data, "y", out=tmp_path / "out", name="ids", metrics={}, lineage=lineage
    )
    card = json.loads((artifact / "model.json").read_text())
    assert card["dropped_columns"] == ["customer_id"]
