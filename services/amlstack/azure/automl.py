"""`amlstack train --backend azure`: an Azure AutoML classification job -> an amlstack artifact.

The job only tries ONNX-convertible models, so its best model runs in our scorer image instead
of Azure's multi-gigabyte AutoML runtime. The downloaded ONNX is wrapped by ``onnx_adapter``
and written with the same files, schema and manifest as a locally trained artifact.
"""

from __future__ import annotations

import codecs
import csv
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlstack.artifact import charset
from amlstack.artifact.names import AUC_WEIGHTED
from amlstack.azure import specs
from amlstack.azure.failures import azure_call
from amlstack.azure.workspace import Workspace
from amlstack.errors import DataError, ExternalError

BEST_CHILD_KEYS = ("automl_best_child_run_id", "best_child_run_id")
TERMINAL = {"Completed", "Failed", "Canceled", "NotResponding", "Paused"}
SAMPLE_ROWS = 5
POLL_S = 30.0

Progress = Callable[[str], None]


def _csv_header(data: Path) -> tuple[list[str], str, str]:
    """The header's column names, the file's delimiter and its text encoding (as `amlstack
    train` reads them)."""
    from amlstack.training.data import detect_delimiter

    try:
        encoding = charset.file_encoding(data)
        if encoding == charset.MIXED:  # MLTable reads a file in one encoding
            lines, count = charset.foreign_lines(data, limit=1)
            raise DataError(
                f"{data}: mixes UTF-8 and Windows-1252 lines ({count:,} Windows-1252, the first "
                f"line {lines[0]}), which Azure's MLTable cannot read in one encoding: re-save "
                "the file as UTF-8"
            )
        delimiter = detect_delimiter(data, encoding)
        with data.open(newline="", encoding=encoding) as handle:
            return next(csv.reader(handle, delimiter=delimiter)), delimiter, encoding
    except (OSError, StopIteration) as exc:
        raise DataError(f"{data}: cannot read a CSV header ({exc or 'empty file'})") from None


def _has_utf8_bom(data: Path) -> bool:
    with data.open("rb") as handle:
        return handle.read(3) == codecs.BOM_UTF8


@dataclass(frozen=True)
class CheckedData:
    """How the job's MLTable reads a checked CSV (`check_data`)."""

    delimiter: str
    encoding: str
    drops: tuple[str, ...]  # `--drop`, then the columns amlstack's schema leaves out


def check_data(data: Path, target: str, drop: tuple[str, ...] = ()) -> CheckedData:
    """DataError unless ``data`` is a CSV AutoML can read with ``target`` and ``drop`` among its
    columns and local training could train on (`load_dataset`: more than one class, a feature
    left); how its MLTable reads it. All of it before a plan or job file is written."""
    from amlstack.training.data import check_column_options

    header, delimiter, encoding = _csv_header(data)
    check_column_options(data, header, target, drop)
    unnamed = next((i for i, cell in enumerate(header) if not cell.strip()), None)
    if unnamed is not None:  # amlstack calls it `Unnamed: <i>`, as pandas does; MLTable cannot
        raise DataError(
            f"{data}: column {unnamed + 1} has no name in the header line (a row index written "
            "by pandas' to_csv()?), and Azure's MLTable cannot name it to drop or train on it: "
            "name it, or remove it (to_csv(index=False))"
        )
    return CheckedData(delimiter, encoding, (*drop, *_schema_drops(data, header, target, drop)))


def _schema_drops(data: Path, header: list[str], target: str, drop: tuple[str, ...]) -> list[str]:
    """The columns amlstack's schema leaves out (identifiers, row numbers, constant or empty
    columns): the job drops them too. AutoML's ONNX takes every column it was trained on as an
    input, and the artifact has no such feature to feed it: its import failed after the job.
    Named as the header line writes them, which MLTable reads, not as amlstack names them
    (`header_names`: a `"` becomes `'`, a backslash `/`)."""
    from amlstack.artifact.delimiters import header_names
    from amlstack.training.data import load_dataset

    dataset = load_dataset(data, target, drop)
    as_written = dict(zip(header_names(header), header, strict=True))
    return [
        as_written.get(d.column, d.column)
        for d in dataset.decisions
        if d.action == "dropped" and d.column not in drop
    ]


def automl_job_spec(
    data: Path,
    target: str,
    out: Path,
    settings: specs.AutoMLSettings | None = None,
    drop: tuple[str, ...] = (),
    checked: CheckedData | None = None,
) -> Path:
    """Write ``out/job.yml`` and the MLTable folder it trains on; returns the job file (offline).
    ``checked``: `check_data`'s answer for these arguments, when the caller already has it."""
    checked = checked or check_data(data, target, drop)
    settings = settings or specs.AutoMLSettings(target=target)
    table = out / "training-data"
    table.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, table / data.name)
    mltable = specs.mltable_spec(
        data.name, checked.delimiter, checked.drops, checked.encoding, _has_utf8_bom(data)
    )
    specs.write_yaml(table / "MLTable", mltable)
    return specs.write_yaml(out / "job.yml", specs.automl_job_spec(settings, "./training-data"))


def wait_for(
    ml: Any, name: str, deadline_s: float, progress: Progress, poll_s: float = POLL_S
) -> Any:
    """Poll the job until it ends or the deadline passes; report each status change."""
    start, last = time.monotonic(), None
    while True:
        with azure_call(f"job {name}"):
            job = ml.jobs.get(name)
        if job.status != last:
            progress(f"job {name}: {job.status}")
            last = job.status
        if job.status in TERMINAL:
            return job
        if time.monotonic() - start > deadline_s:
            raise ExternalError(
                f"job {name} still {job.status} after {deadline_s:.0f}s; see {job.studio_url}"
            )
        time.sleep(poll_s)


def best_child(job: Any) -> str:
    for source in (job.tags or {}, job.properties or {}):
        for key in BEST_CHILD_KEYS:
            if source.get(key):
                return str(source[key])
    raise ExternalError(
        f"job {job.name} finished without a best model (no {BEST_CHILD_KEYS[0]} tag)"
    )


# Where `ml.jobs.download(run, all=True)` puts the best child run's ONNX model: the SDK writes
# the run's artifact store under artifacts/, and AutoML saves model.onnx in the run's outputs/
# folder (next to outputs/mlflow-model/) when the job allows only ONNX-compatible models.
ONNX_IN_DOWNLOAD = Path("artifacts") / "outputs" / "model.onnx"


def download_onnx(ml: Any, run_id: str, into: Path) -> Path:
    """The best child's ``outputs/model.onnx``; a clear error when the run has none."""
    with azure_call(f"download of {run_id}"):
        ml.jobs.download(name=run_id, download_path=str(into), all=True)
    path = into / ONNX_IN_DOWNLOAD
    if not path.is_file():
        found = sorted(p.relative_to(into).as_posix() for p in into.rglob("*.onnx"))
        elsewhere = f"; ONNX files elsewhere: {', '.join(found)}" if found else ""
        raise ExternalError(
            f"run {run_id} has no {ONNX_IN_DOWNLOAD.relative_to('artifacts').as_posix()} "
            f"(was the job submitted with enable_onnx_compatible_models?){elsewhere}"
        )
    return path


def submit_automl(
    data: Path,
    target: str,
    *,
    out: Path,
    name: str,
    workspace: Workspace,
    clients: Any,
    settings: specs.AutoMLSettings | None = None,
    progress: Progress = lambda line: None,
    poll_s: float = POLL_S,
    drop: tuple[str, ...] = (),
) -> Path:
    """Submit, stream status, download the best ONNX and write ``out/<name>/<version>/``."""
    from azure.ai.ml import load_job

    settings = settings or specs.AutoMLSettings(target=target)
    ml = clients.ml_client(workspace)
    with tempfile.TemporaryDirectory(prefix="amlstack-automl-") as tmp:
        job_file = automl_job_spec(data, target, Path(tmp) / "job", settings, drop)
        with azure_call("AutoML job submission"):
            submitted = ml.jobs.create_or_update(load_job(job_file))
        progress(f"submitted {submitted.name}: {getattr(submitted, 'studio_url', '')}")
        deadline = (settings.timeout_minutes + 30) * 60  # queueing and model explanation overhead
        job = wait_for(ml, submitted.name, deadline, progress, poll_s)
        if job.status != "Completed":
            raise ExternalError(f"AutoML job {job.name} ended {job.status}; see {job.studio_url}")
        run_id = best_child(job)
        with azure_call(f"run {run_id}"):
            best = ml.jobs.get(run_id)
        onnx_path = download_onnx(ml, run_id, Path(tmp) / "best")
        lineage = AzureLineage(job=job.name, best_run=run_id, workspace=workspace.workspace_name)
        return write_artifact(
            onnx_path, data, target, out=out, name=name, metrics=_metrics(best),
            lineage=lineage, drop=drop,
        )  # fmt: skip


def train_on_azure(
    data: Path,
    target: str,
    *,
    out: Path,
    name: str,
    settings: specs.AutoMLSettings | None = None,
    workspace: Workspace | None = None,
    clients: Any = None,
    progress: Progress = lambda line: None,
    drop: tuple[str, ...] = (),
) -> Path | None:
    """`amlstack train --backend azure`: submit when a credential exists, else a dry run.

    The dry run writes the job (``out/azure-automl-job/job.yml`` + its MLTable) and returns None.
    """
    from amlstack.azure.clients import Clients, credential_source
    from amlstack.azure.workspace import resolve_workspace

    settings = settings or specs.AutoMLSettings(target=target)
    workspace = workspace or resolve_workspace()
    if clients is None and credential_source() is None:
        job = automl_job_spec(data, target, out / "azure-automl-job", settings, drop)
        progress(
            f"no Azure credential found (az login / AZURE_CLIENT_*): dry run, nothing submitted; "
            f"the job is in {job} (az ml job create --file {job} {workspace.cli_args()})"
        )
        return None
    return submit_automl(
        data, target, out=out, name=name, workspace=workspace,
        clients=clients or Clients(), settings=settings, progress=progress, drop=drop,
    )  # fmt: skip


@dataclass(frozen=True)
class AzureLineage:
    """The AutoML job an artifact came from (model.json's ``training``)."""

    job: str
    best_run: str
    workspace: str


def _metrics(run: Any) -> dict[str, float]:
    """The best run's score: the job's primary metric, AUC_weighted (specs.automl_job_spec)."""
    props = run.properties or {}
    score = props.get("score")
    try:
        return {AUC_WEIGHTED: float(score)} if score is not None else {}
    except (TypeError, ValueError):
        return {}


def write_artifact(
    onnx_path: Path,
    data: Path,
    target: str,
    *,
    out: Path,
    name: str,
    metrics: dict[str, float],
    lineage: AzureLineage,
    drop: tuple[str, ...] = (),
) -> Path:
    """Adapt the AutoML ONNX and publish ``out/<name>/<next version>/`` with the local writer."""
    import msgspec
    import onnx

    from amlstack.artifact.profile import build_profile
    from amlstack.artifact.reader import Model
    from amlstack.artifact.schema import CardMetrics, ModelSpec, TrainingRecord
    from amlstack.artifact.writer import write_artifact as write_files
    from amlstack.azure import onnx_adapter
    from amlstack.training import store
    from amlstack.training.data import client_records, load_dataset

    # The same schema inference as local training, so both kinds of artifact look alike.
    dataset = load_dataset(data, target, drop)
    card = store.model_card(
        dataset,
        name=name,  # dropped_columns: --drop and the schema's, as the job dropped them
        model=ModelSpec(
            input=onnx_adapter.INPUT,
            output=onnx_adapter.OUTPUT,
            n_features=len(dataset.features),
            kind="azure-automl",
            description="best model of an Azure AutoML job (ONNX-compatible models only)",
        ),
        metrics=CardMetrics(azure=metrics, primary_metric=AUC_WEIGHTED),
        training=TrainingRecord(
            data_file=data.name,
            data_sha256=dataset.sha256,
            rows=len(dataset.frame),
            backend="azure-automl",
            job=lineage.job,
            best_run=lineage.best_run,
            workspace=lineage.workspace,
        ),
    )
    # The AutoML graph reads each category's text, which the adapter decodes from its code; a
    # frequency (local training's encoding of a column with many values) names no category.
    card = msgspec.structs.replace(card, features=[
        msgspec.structs.replace(f, encoding=None, frequencies=None) if f.encoding else f
        for f in card.features
    ])  # fmt: skip
    columns = [onnx_adapter.Column(f.name, tuple(f.categories or ())) for f in card.features]
    classes = [str(c) for c in dataset.classes]
    adapted = onnx_adapter.adapt(onnx.load(str(onnx_path)), columns, classes)
    sample = client_records(dataset.frame.head(SAMPLE_ROWS), dataset.features)

    def fill(folder: Path, version: int) -> None:
        write_files(
            folder,
            msgspec.structs.replace(card, version=version),
            adapted.SerializeToString(),
            sample=sample,
            profile=build_profile(dataset.frame, dataset.features),
        )
        Model(folder, verify=False)  # never publish what the scorer cannot load

    return store.write_version(out, name, fill)
