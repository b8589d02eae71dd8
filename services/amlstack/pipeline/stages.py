"""The pipeline's stages and the local runner.

Every stage is a function of explicit inputs (paths, the run's config, earlier stages' results)
that writes ``runs/<run-id>/<stage>/result.json``; ``run.json`` is the run record (who, when,
inputs, outputs, decision). A failed run resumes with ``--from STAGE``: earlier results are read
back from the folder, never recomputed. Azure ML runs the same stages one component at a time
through ``amlstack pipeline stage NAME --run-dir DIR`` (see azure_pipeline.py).
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from amlstack.errors import DataError, ExternalError, InternalError, UserError, write_bug_log
from amlstack.pipeline import process
from amlstack.pipeline import registry as reg
from amlstack.pipeline.jsonio import read_json, write_json

if TYPE_CHECKING:
    from amlstack.training.train import TrainConfig

STAGES = ("validate_data", "train", "evaluate", "gate", "register", "deploy")
DRIFT_STAGE = "drift"  # optional first stage: retrain only when the live traffic drifted
KEY_ENV = "AMLSTACK_KEY"  # the scoring key is read from the environment, never stored in a run
DEPLOY_MODES = ("none", "compose", "azure")
RESULT = "result.json"
FEW_TRAIN_ROWS = 100  # below this, a challenger's training rows are worth a warning
FEW_ROWS_SHARE = 0.5  # ... or below this share of the rows the champion learnt from
RUN_RECORD = "run.json"
RUN_LOCK = ".run.lock"  # held while a process checks that the run is free and claims it


class Trainer(Protocol):
    def __call__(self, data: Path, out: Path, config: RunConfig) -> Path: ...


@dataclass
class RunConfig:
    """Everything a run needs besides earlier results; saved in run.json so a resume reuses it."""

    data: str
    name: str = "bankmarketing"
    target: str = "y"
    runs: str = "runs"
    registry: str = "registry"
    artifacts: str = "artifacts"
    deploy: str = "none"
    tolerance: float = 0.005
    min_auc: float = 0.75
    holdout_fraction: float = 0.2
    seed: int = 0
    time_budget: int | None = 60  # None: no time limit, max_iter alone bounds the search
    max_iter: int = 20
    backend: str = "local"
    drift_url: str | None = None
    drift_prometheus: str | None = None  # every replica's counts, rather than drift_url's own
    drift_threshold: float = 0.2
    drop: list[str] = field(default_factory=list)  # as `amlstack train --drop`
    keep: list[str] = field(default_factory=list)  # as `amlstack train --keep` (local only)
    extra: dict[str, Any] = field(default_factory=dict)


def sha256_path(path: Path) -> str:
    from amlstack.artifact.manifest import sha256_file

    return sha256_file(Path(path))


def new_run_id() -> str:
    """Sortable by creation time, to the microsecond (runs started in one second stay in order)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{hashlib.sha1(os.urandom(8)).hexdigest()[:6]}"  # noqa: S324 (an id, not security)


# -- trainers -----------------------------------------------------------------------------
def automl_trainer(data: Path, out: Path, config: RunConfig) -> Path:
    """The same AutoML as `amlstack train` (in process); Azure AutoML through the CLI."""
    if config.backend != "local":
        return azure_trainer(data, out, config)
    from amlstack.training.train import train

    return Path(train(train_config(data, out, config)).path)


def train_config(data: Path, out: Path, config: RunConfig) -> TrainConfig:
    """The TrainConfig a local run trains with; its ``check`` owns the limits on the budget,
    trials and seed, for ``pipeline run`` as for ``amlstack train``."""
    from amlstack.training.train import TrainConfig

    learners = config.extra.get("learners")
    options = {"learners": tuple(learners.split(","))} if learners else {}
    return TrainConfig(
        data=Path(data), target=config.target, out=Path(out), name=config.name,
        time_budget=config.time_budget, max_iter=config.max_iter, seed=config.seed,
        drop=tuple(config.drop), keep=tuple(config.keep), **options,
    )  # fmt: skip


def azure_trainer(data: Path, out: Path, config: RunConfig) -> Path:
    """Azure AutoML in process, as `amlstack train --backend azure` (workspace from the env)."""
    from amlstack.azure.automl import train_on_azure
    from amlstack.azure.specs import AutoMLSettings
    from amlstack.azure.workspace import resolve_workspace

    settings = AutoMLSettings.from_budget(config.target, None, config.time_budget, config.max_iter)
    artifact = train_on_azure(
        Path(data), config.target, out=Path(out), name=config.name, settings=settings,
        workspace=resolve_workspace(), drop=tuple(config.drop),
    )  # fmt: skip
    if artifact is None:
        raise ExternalError("Azure training was a dry run (no Azure credential): no artifact")
    return Path(artifact)


def load_trainer(spec: str | None) -> Trainer:
    """``module:function``, or None for the AutoML trainer of `amlstack train`."""
    if not spec:
        return automl_trainer
    import importlib

    module, _, func = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot load trainer {spec!r}: {exc}") from None


# -- the run folder -------------------------------------------------------------------------
@dataclass
class Run:
    folder: Path
    config: RunConfig

    @property
    def run_id(self) -> str:
        return self.folder.name

    def stage_dir(self, stage: str) -> Path:
        return self.folder / stage

    def result(self, stage: str) -> dict[str, Any]:
        data = read_json(self.stage_dir(stage) / RESULT)
        if not data or data.get("status") != "done":
            raise UserError(
                f"run {self.run_id}: stage {stage} has no finished result; run it first"
            )
        return data

    def record(self) -> dict[str, Any]:
        return read_json(self.folder / RUN_RECORD, {}, shape=dict)

    def update_record(self, **changes: Any) -> None:
        record = self.record()
        record.update(changes)
        write_json(self.folder / RUN_RECORD, record)

    def registry(self) -> reg.Registry:
        return reg.Registry(Path(self.config.registry), self.config.name)

    def rel(self, path: Path) -> str:
        """A path as stored in results: relative to the run folder when inside it, so a run
        folder mounted elsewhere (the next Azure ML component) still resolves it."""
        path = Path(path).resolve()
        try:
            return path.relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return str(path)

    def path(self, stored: str) -> Path:
        return self.folder / stored if not Path(stored).is_absolute() else Path(stored)


def create_run(config: RunConfig, run_id: str | None = None) -> Run:
    """A new run folder; an existing run's id is refused, since its record is the lineage of
    whatever it registered (resume that run with ``--from`` instead)."""
    folder = Path(config.runs) / (run_id or new_run_id())
    if (folder / RUN_RECORD).is_file():
        raise UserError(
            f"run {folder.name!r} already exists under {config.runs}: resume it (--from STAGE "
            f"--run-id {folder.name}) or give a new --run-id"
        )
    folder.mkdir(parents=True, exist_ok=True)
    run = Run(folder, config)
    data = Path(config.data)
    run.update_record(
        run_id=run.run_id,
        who=reg.who(),
        started_at=reg.now(),
        code_version=reg.code_version(),
        config=asdict(config),
        inputs=_inputs(data),
        stages={},
    )
    return run


def _inputs(data: Path) -> dict[str, str]:
    """The run record's ``inputs``: the data file and its sha256 (lineage of what is registered)."""
    return {"data": str(data.resolve()), "data_sha256": sha256_path(data)}


def open_run(runs: Path, run_id: str | None) -> Run:
    """An existing run (the latest when ``run_id`` is None), with the config it started with."""
    if run_id is None:
        candidates = sorted(p for p in Path(runs).glob("*") if (p / RUN_RECORD).is_file())
        if not candidates:
            raise UserError(f"no runs under {runs}")
        folder = candidates[-1]
    else:
        folder = Path(runs) / run_id
    record = read_json(folder / RUN_RECORD, shape=dict)
    if not record:
        raise UserError(f"no run {folder.name!r} under {runs}")
    return Run(folder, RunConfig(**record["config"]))


# -- the stages -------------------------------------------------------------------------------
def _read_csv(path: Path, target: str):
    """The training reader, so any CSV `amlstack train` accepts runs through the pipeline."""
    from amlstack.training.data import read_table

    if not Path(path).is_file():
        raise DataError(f"{path}: no such data file")
    return read_table(path, target)


def stage_drift(run: Run) -> dict[str, Any]:
    """Compare the serving scorer's live profile with the champion's training profile."""
    from amlstack.pipeline.drift import (
        KeyRefused,
        check_key,
        compare,
        fetch_live,
        profile_for_served_bins,
        read_training_profile,
    )

    registry = run.registry()
    champion = registry.tagged("production")
    if champion is None:
        return {"drifted": [], "retrain": True, "reason": "no production model: train one"}
    url, key = str(run.config.drift_url), os.environ.get(KEY_ENV)
    check_key(key, f"${KEY_ENV}")  # a run has no --key
    source = f"the production model ({champion['version']})"
    try:
        training = profile_for_served_bins(
            read_training_profile(registry.artifact_path(champion)), url, key, source
        )
        live = fetch_live(url, key, training, prometheus=run.config.drift_prometheus)
    except KeyRefused as exc:  # a run has no --key: the key comes from the environment only
        raise exc.from_source(f"${KEY_ENV}") from None
    report = compare(training, live, threshold=run.config.drift_threshold)
    write_json(run.stage_dir(DRIFT_STAGE) / "report.json", report)
    drifted = report["drifted"]
    reason = f"drift in {', '.join(drifted)}" if drifted else "no feature drifted"
    return {"drifted": drifted, "rows": report["rows"], "retrain": bool(drifted), "reason": reason}


def stage_validate_data(run: Run) -> dict[str, Any]:
    """Schema checks against the champion, then the train / evaluation split."""
    from amlstack.pipeline.drift import compare, frame_counts, read_training_profile
    from amlstack.pipeline.validate import (
        align_labels,
        check_schema,
        labelled,
        split,
    )

    cfg = run.config
    frame = _read_csv(Path(cfg.data), cfg.target)
    # A run resumed here after its data file was fixed reads the file anew: record what it read.
    run.update_record(inputs=_inputs(Path(cfg.data)))
    registry = run.registry()
    champion = registry.tagged("production")
    if champion:
        champion = {**champion, "artifact": str(registry.artifact_path(champion))}
    meta = read_json(Path(champion["artifact"]) / "model.json") if champion else None
    frame, respelt = align_labels(frame, cfg.target, meta.get("classes", []) if meta else [])
    report = check_schema(frame, cfg.target, meta)
    if respelt:
        report["warnings"].append(respelt)
    out = run.stage_dir("validate_data")
    write_json(out / "schema.json", report)
    if report["breaking"]:
        raise DataError(f"{cfg.data}: breaking changes: {'; '.join(report['breaking'])}")
    drift = None
    if champion and (Path(champion["artifact"]) / "profile.json").is_file():
        training = read_training_profile(Path(champion["artifact"]))
        drift = compare(training, frame_counts(frame, training))
        write_json(out / "data_drift.json", drift)
    champion_rows = registry.trained_rows(champion["version"]) if champion else None
    train, holdout, info = split(
        labelled(frame, cfg.target),
        cfg.target,
        champion_rows,
        columns=registry.trained_columns(champion["version"]) if champion else None,
        fraction=cfg.holdout_fraction,
        seed=cfg.seed,
    )
    train.to_csv(out / "train.csv", index=False)
    holdout.to_csv(out / "holdout.csv", index=False)
    few = _few_rows(info["train_rows"], champion_rows)
    if few:
        report["warnings"].append(few)
    return {
        "champion": champion["version"] if champion else None,
        "champion_artifact": champion["artifact"] if champion else None,
        "warnings": report["warnings"],
        "label_balance": report.get("label_balance"),
        "data_drift": drift["drifted"] if drift else None,
        "split": info,
        "outputs": {"train": run.rel(out / "train.csv"), "holdout": run.rel(out / "holdout.csv")},
    }


def _few_rows(train_rows: int, champion_rows: np.ndarray | None) -> str | None:
    """A warning when the challenger has far fewer rows to learn from than it needs, or than the
    champion had: a run retrains on the file it is given, so a file of new rows alone gives a
    challenger that learnt from them alone."""
    known = None if champion_rows is None else len(champion_rows)  # copies too, as train_rows
    if known and train_rows < FEW_ROWS_SHARE * known:
        return (
            f"the challenger trains on {train_rows} rows, the production model learnt from "
            f"{known}: a run retrains on --data alone, so give it every row (old and new), "
            "not only the new ones"
        )
    if train_rows < FEW_TRAIN_ROWS:
        return f"the challenger trains on {train_rows} rows only: its model may be poor"
    return None


def stage_train(run: Run, trainer: Trainer) -> dict[str, Any]:
    from amlstack.artifact.reader import Model

    train_csv = run.path(run.result("validate_data")["outputs"]["train"])
    artifact = trainer(train_csv, run.path(run.config.artifacts), run.config)
    model = Model(artifact)  # verifies the manifest before anything relies on it
    return {"artifact": run.rel(artifact), "version": model.version, "name": model.name}


def stage_evaluate(run: Run) -> dict[str, Any]:
    from amlstack.pipeline.evaluate import evaluate

    validated = run.result("validate_data")
    trained = run.result("train")
    holdout = _read_csv(run.path(validated["outputs"]["holdout"]), run.config.target)
    champion = validated.get("champion_artifact")
    if validated.get("champion"):  # checked again: a resumed run may come much later
        registry = run.registry()
        champion = str(registry.artifact_path(registry.get(validated["champion"])))
    result = evaluate(
        holdout,
        run.config.target,
        run.path(trained["artifact"]),
        Path(champion) if champion else None,
        seed=run.config.seed,
    )
    out = run.stage_dir("evaluate")
    out.mkdir(parents=True, exist_ok=True)
    y, scores = result.pop("_y"), result.pop("_scores")
    if result["positives"] is not None:  # binary: the report's ROC curves
        np.savez(out / "scores.npz", y=y, **scores)
    return result


def stage_gate(run: Run) -> dict[str, Any]:
    from amlstack.pipeline.gate import GatePolicy, behaviour_checks, decide

    evaluation = run.result("evaluate")
    trained = run.result("train")
    holdout = _read_csv(
        run.path(run.result("validate_data")["outputs"]["holdout"]), run.config.target
    )
    behaviour = behaviour_checks(run.path(trained["artifact"]), holdout, seed=run.config.seed)
    policy = GatePolicy(tolerance=run.config.tolerance, min_auc=run.config.min_auc)
    return decide(evaluation, behaviour, policy)


def stage_register(run: Run) -> dict[str, Any]:
    gate = run.result("gate")
    if gate["decision"] != "promote":
        return {"registered": False, "reason": "the gate refused the challenger"}
    trained = run.result("train")
    validated = run.result("validate_data")
    evaluation = run.result("evaluate")
    record = run.record()
    registry = run.registry()
    _check_champion_unchanged(registry, validated.get("champion"), run.run_id)
    lineage = {
        "run_id": run.run_id,
        "data": record["inputs"],
        "code_version": record.get("code_version") or reg.code_version(),
        "parent": validated.get("champion"),
        "gate": {"decision": gate["decision"], "reasons": gate["reasons"]},
    }
    metrics = {
        m: {**v, "measured_on": reg.MEASURED_BY_PIPELINE}
        for m, v in evaluation["metrics"]["challenger"].items()
    }
    rows, columns = _trained_rows(run, run.path(trained["artifact"]))
    entry = registry.register(
        run.path(trained["artifact"]), lineage=lineage, metrics=metrics, trained_rows=rows,
        trained_columns=columns, copy=bool(run.config.extra.get("copy_artifacts")),
    )  # fmt: skip
    registry.set_tag("staging", entry["version"], reason=f"run {run.run_id}")
    try:
        registry.promote(
            entry["version"], reason=f"gate passed in run {run.run_id}",
            replacing=validated.get("champion"),
        )  # fmt: skip
    except reg.TagMoved as exc:
        raise StaleChampion(str(exc)) from None
    azure = None
    if run.config.backend == "azure":
        from amlstack.pipeline.azure_pipeline import register_in_workspace

        azure = register_in_workspace(run.path(trained["artifact"]), run.config.name)
    return {"registered": True, "version": entry["version"], "tag": "production", "azure": azure}


class StaleChampion(UserError):
    """Production moved since the run's validate_data: only a new comparison can help."""

    resume_from = "validate_data"


def _check_champion_unchanged(registry: reg.Registry, champion: str | None, run_id: str) -> None:
    """Refuse to promote past a production model the challenger was never compared with (one
    another run or a person promoted after this run's validate_data); this run's own model in
    production (a resumed register) is no such model. `Registry.promote` checks again, under
    the registry's lock, for a run promoting in between."""
    current = registry.tagged("production")
    version = current["version"] if current else None
    if version != champion and (current or {}).get("run_id") != run_id:
        raise StaleChampion(
            f"production is now version {version} of {registry.name!r}, not "
            f"{champion or 'none'} as when this run was evaluated: the challenger was never "
            "compared with it; run the pipeline again"
        )


def _trained_rows(run: Run, artifact: Path) -> tuple[np.ndarray, list[str]]:
    """The row hashes of the challenger's training rows, over its own columns (its features
    and the target), so the next run knows them whatever columns its file adds or reorders."""
    from amlstack.artifact.reader import Model
    from amlstack.pipeline.validate import model_columns, row_hashes

    columns = model_columns(Model(artifact), run.config.target)
    train = _read_csv(run.path(run.result("validate_data")["outputs"]["train"]), run.config.target)
    return row_hashes(train, columns), columns


def stage_deploy(run: Run) -> dict[str, Any]:
    registered = run.result("register")
    mode = run.config.deploy
    if not registered.get("registered"):
        return {"deployed": False, "reason": "nothing was promoted"}
    if mode == "none":
        return {"deployed": False, "reason": "deploy mode is none"}
    registry = run.registry()
    artifact = registry.artifact_path(registry.get(registered["version"]))
    from amlstack.pipeline.deploy import deploy_azure, deploy_compose

    out = run.stage_dir("deploy")
    if mode == "compose":
        return deploy_compose(artifact, out)
    return deploy_azure(artifact, out)


# -- the runner -------------------------------------------------------------------------------
def run_stage(run: Run, stage: str, trainer: Trainer | None = None) -> dict[str, Any]:
    """Run one stage and record its result (or its failure) in the run folder."""
    if stage not in (DRIFT_STAGE, *STAGES):
        raise UserError(f"unknown stage {stage!r}; stages: {', '.join((DRIFT_STAGE, *STAGES))}")
    functions: dict[str, Callable[[Run], dict[str, Any]]] = {
        DRIFT_STAGE: stage_drift,
        "validate_data": stage_validate_data,
        "train": lambda r: stage_train(r, trainer or automl_trainer),
        "evaluate": stage_evaluate,
        "gate": stage_gate,
        "register": stage_register,
        "deploy": stage_deploy,
    }
    _claim(run, stage)
    started = time.monotonic()
    status: dict[str, Any] = {"stage": stage, "started_at": reg.now()}
    try:
        output = functions[stage](run)
    except KeyboardInterrupt:
        _record_stage(run, stage, {**status, "status": "interrupted"})
        raise
    except UserError as exc:
        _record_stage(run, stage, {**status, "status": "failed", "error": str(exc)})
        raise
    except Exception as exc:
        # Not a user error, so a bug: the traceback goes to the run folder, never the terminal.
        log = write_bug_log(exc, run.stage_dir(stage))
        detail = {"error": f"{exc.__class__.__name__}: {exc}", "traceback": traceback.format_exc()}
        _record_stage(run, stage, {**status, "status": "failed", **detail})
        raise InternalError(f"stage {stage} failed: {detail['error']}", log=log) from exc
    status.update(status="done", seconds=round(time.monotonic() - started, 3), **output)
    _record_stage(run, stage, status)
    return status


def _claim(run: Run, stage: str) -> None:
    """Record this process as the one running ``stage``."""
    with claim_lock(run):
        record = _free_record(run)
        record.setdefault("stages", {})[stage] = "running"
        record["process"] = process.current()
        write_json(run.folder / RUN_RECORD, record)


@contextmanager
def claim_lock(run: Run) -> Iterator[None]:
    """The run's lock, held from the check that no other process runs it to the record that this
    one does: two processes resuming one run at once would otherwise both find it free. Where
    there are no advisory file locks (Windows, some network file systems) that narrow race
    stays."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with (run.folder / RUN_LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            locked = True
        except OSError:  # a file system without locks (NFS without lockd): as on Windows
            locked = False
        try:
            yield
        finally:
            if locked:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _free_record(run: Run) -> dict[str, Any]:
    """The run's record, unless another live process runs the run: two writers would interleave
    their results and registrations."""
    record = run.record()
    owner = record.get("process") or {}
    if _busy(record) and not process.is_current(owner) and process.alive(owner):
        raise UserError(
            f"run {run.run_id} is still running (pid {owner['pid']} on {owner['host']}): "
            "wait for it to finish, or stop that process first"
        )
    return record


def _busy(record: dict[str, Any]) -> bool:
    """Whether the record says a process is working on the run: `run_pipeline` between its
    stages, or any runner inside a stage."""
    return record.get("status") == "running" or "running" in record.get("stages", {}).values()


def run_state(record: dict[str, Any]) -> str:
    """The run's status as it stands. A busy run whose process has gone (killed, or its machine
    restarted) is ``stopped``, though its record cannot say so. A run driven one stage at a time
    (`pipeline stage`, as Azure ML components run it) has no status of its own: it is ``done``
    once every stage is, else ``running``."""
    status = record.get("status")
    if status not in (None, "running"):
        return status
    if _busy(record) and process.alive(record.get("process")) is False:
        return "stopped"
    stages = record.get("stages", {})
    if status is None and all(stages.get(stage) == "done" for stage in STAGES):
        return "done"
    return "running"


def stage_order(drift_url: str | None) -> tuple[str, ...]:
    """The stages a run goes through: a run given a drift URL starts by checking for drift."""
    return (DRIFT_STAGE, *STAGES) if drift_url else STAGES


def check_start(run: Run, start: str) -> None:
    """A UserError unless ``start`` is one of the run's stages (the drift stage is one only for a
    run started with a drift URL)."""
    order = stage_order(run.config.drift_url)
    if start not in order:
        why = " (it was started without --if-drift)" if start == DRIFT_STAGE else ""
        raise UserError(
            f"--from {start}: run {run.run_id} has no such stage{why}; its stages: "
            + ", ".join(order)
        )


def resume_stage(record: dict[str, Any]) -> str | None:
    """The first stage of the run that is not done: where a stopped run resumes."""
    stages = record.get("stages", {})
    order = stage_order(record.get("config", {}).get("drift_url"))
    return next((stage for stage in order if stages.get(stage) != "done"), None)


def resume_command(run_id: str, stage: str) -> str:
    return f"amlstack pipeline run --from {stage} --run-id {run_id}"


def _run_one(run: Run, stage: str, trainer, on_stage) -> str:
    """One stage of `run_pipeline`, reported to ``on_stage``; ``skipped`` when the drift stage
    found nothing to retrain (the run ends there)."""
    if on_stage:
        on_stage(stage, "start")
    try:
        run_stage(run, stage, trainer)
    except (UserError, InternalError):
        if on_stage:
            on_stage(stage, "failed")
        run.update_record(finished_at=reg.now(), status="failed", failed_stage=stage)
        raise
    if on_stage:
        on_stage(stage, "done")
    if stage == DRIFT_STAGE and not run.result(DRIFT_STAGE)["retrain"]:
        reason = run.result(DRIFT_STAGE)["reason"]
        decision = {"decision": "none", "reasons": [f"{reason}: nothing to retrain"]}
        run.update_record(finished_at=reg.now(), status="skipped", decision=decision)
        return "skipped"
    return "done"


def _record_stage(run: Run, stage: str, result: dict[str, Any]) -> None:
    write_json(run.stage_dir(stage) / RESULT, result)
    record = run.record()
    record.setdefault("stages", {})[stage] = result["status"]
    if stage == "gate" and result["status"] == "done":
        record["decision"] = {"decision": result["decision"], "reasons": result["reasons"]}
    record["updated_at"] = reg.now()
    write_json(run.folder / RUN_RECORD, record)


def run_pipeline(
    run: Run,
    *,
    start: str | None = None,
    trainer: Trainer | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Run the stages from ``start`` (default the first) to the end; returns the run record.

    With ``drift_url`` in the config the run starts with the drift stage and stops there, as
    skipped, when no feature drifted.
    """
    order = stage_order(run.config.drift_url)
    if start is not None:
        check_start(run, start)
    first = order.index(start) if start else 0
    with claim_lock(run):
        _free_record(run)
        run.update_record(
            status="running", process=process.current(), finished_at=None, failed_stage=None
        )
    try:
        for stage in order[first:]:
            if _run_one(run, stage, trainer, on_stage) == "skipped":
                return run.record()
    except KeyboardInterrupt:  # in a stage, or in the caller's progress display between two
        failed = resume_stage(run.record())
        run.update_record(finished_at=reg.now(), status="interrupted", failed_stage=failed)
        raise
    run.update_record(finished_at=reg.now(), status="done", failed_stage=None)
    from amlstack.pipeline.report import write_report

    outputs = write_report(run)
    run.update_record(outputs={"report": [str(p) for p in outputs]})
    return run.record()
