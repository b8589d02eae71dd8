"""`amlstack pipeline ...`, `amlstack registry ...` and `amlstack drift`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from amlstack.errors import InternalError, UserError

out = Console()
PIPED_WIDTH = 160  # the width of a table printed to a pipe or file: ids are never cut short
DEFAULT_DATA = Path("data/bankmarketing_train.csv")
DEFAULT_NAME = "bankmarketing"
DRIFT_EXIT = 1  # drift found: distinct from user errors (2) and unreachable services (3)

pipeline_app = typer.Typer(
    help="Retrain, evaluate, gate, register and deploy; Azure ML publish.", no_args_is_help=True
)
registry_app = typer.Typer(
    help="The local model registry: versions, stage tags, lineage.", no_args_is_help=True
)

Runs = Annotated[Path, typer.Option(help="Folder of run records.")]
RegistryDir = Annotated[Path, typer.Option("--registry", help="Registry folder.")]
Name = Annotated[
    str | None,
    typer.Option(help="Model name (default: the one model the registry holds, else the data's "
                 "or the artifact's name)."),
]  # fmt: skip


def _name(registry: Path, name: str | None, fallback: str) -> str:
    """``--name``, else the one model ``registry`` holds, else ``fallback``."""
    if name:
        return name
    from amlstack.pipeline.registry import INDEX

    held = (
        sorted(d.name for d in registry.iterdir() if (d / INDEX).is_file())
        if registry.is_dir()
        else []
    )
    if len(held) > 1:
        raise UserError(f"--name: {registry} holds the models {', '.join(held)}: say which")
    return held[0] if held else fallback


@pipeline_app.command("run")
def run_command(
    data: Annotated[Path, typer.Option(help="Training data CSV (the new data).")] = DEFAULT_DATA,
    start: Annotated[
        str | None, typer.Option("--from", help="Resume an existing run from this stage.")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Run to resume (default: the latest).")] = None,
    name: Name = None,
    target: Annotated[str, typer.Option(help="Label column.")] = "y",
    runs: Runs = Path("runs"),
    registry: RegistryDir = Path("registry"),
    artifacts: Annotated[Path, typer.Option(help="Where training writes artifacts.")] = Path(
        "artifacts"
    ),
    deploy: Annotated[str, typer.Option(help="none, compose or azure.")] = "none",
    tolerance: Annotated[
        float, typer.Option(help="AUC the challenger may lose vs the champion.")
    ] = 0.005,
    min_auc: Annotated[float, typer.Option(help="Minimum held-out AUC.")] = 0.75,
    time_budget: Annotated[int, typer.Option(help="AutoML seconds.")] = 60,
    max_iter: Annotated[int, typer.Option(help="AutoML trials.")] = 20,
    seed: int = 0,
    drop: Annotated[
        list[str] | None, typer.Option(help="Column to leave out, as train --drop (repeatable).")
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(help="Column to keep, as train --keep (repeatable; local backend)."),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="local or azure (training and registration).")
    ] = "local",
    if_drift: Annotated[
        str | None,
        typer.Option(help="Scorer URL: retrain only when its traffic drifted ($AMLSTACK_KEY)."),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(help="With --if-drift: Prometheus URL holding every replica's counts."),
    ] = None,
    trainer: Annotated[
        str | None, typer.Option(hidden=True, help="module:function trainer.")
    ] = None,
) -> None:
    """Run the pipeline locally with a progress display; write a run record and summary."""
    from amlstack.pipeline import stages
    from amlstack.pipeline.drift import KeyRefused, check_key

    if deploy not in stages.DEPLOY_MODES:
        raise UserError(f"--deploy must be one of {', '.join(stages.DEPLOY_MODES)}")
    if backend not in ("local", "azure"):
        raise UserError(f"--backend {backend}: choose local or azure")
    if keep and backend == "azure":
        raise UserError("--keep applies to the local backend only; Azure AutoML chooses its own")
    if start is not None:
        if start not in (stages.DRIFT_STAGE, *stages.STAGES):
            raise UserError(f"--from must be one of drift, {', '.join(stages.STAGES)}")
        run = stages.open_run(runs, run_id)
        stages.check_start(run, start)
    else:
        from amlstack.training.train import default_name

        name = _name(registry, name, default_name(data))
        # Absolute paths: a resumed run (from any folder) finds the same files.
        config = stages.RunConfig(
            data=str(data.resolve()), name=name, target=target, runs=str(runs.resolve()),
            registry=str(registry.resolve()), artifacts=str(artifacts.resolve()), deploy=deploy,
            tolerance=tolerance, min_auc=min_auc, time_budget=time_budget, max_iter=max_iter,
            seed=seed, backend=backend, drift_url=if_drift, drift_prometheus=prometheus,
            drop=list(drop or ()), keep=list(keep or ()),
        )  # fmt: skip
        stages.train_config(data, artifacts, config).check()
        if not data.is_file():
            raise UserError(f"{data}: no such data file")
        from amlstack.training.data import check_column_options, file_columns

        # Now, as train checks them: a stage would name the run's copy of the data, and a
        # resumed run would reuse the same options.
        check_column_options(data, file_columns(data), target, config.drop, config.keep)
        if if_drift is not None:  # the drift stage would fail on it, after a run folder exists
            check_key(os.environ.get(stages.KEY_ENV), f"${stages.KEY_ENV}")
        run = stages.create_run(config, run_id)
    out.print(f"run [bold]{run.run_id}[/] in {run.folder}")
    with out.status("starting") as status:

        def progress(stage: str, event: str) -> None:
            if event == "start":
                status.update(f"{stage} ...")
            else:
                mark = "[green]done[/]" if event == "done" else "[red]failed[/]"
                out.print(f"  {stage:14} {mark}")
            if event == "done":
                for warning in run.result(stage).get("warnings", []):
                    out.print(f"    [yellow]warning[/]: {warning}", highlight=False)

        try:
            record = stages.run_pipeline(
                run, start=start, trainer=stages.load_trainer(trainer), on_stage=progress
            )
        except KeyRefused:
            # The first stage: resuming it is running again, with the key set right.
            raise
        except (UserError, InternalError) as exc:
            # a stage may know resuming it cannot help (production moved: compare again)
            failed = getattr(exc, "resume_from", None) or run.record().get("failed_stage")
            resume = stages.resume_command(run.run_id, failed)
            if isinstance(exc, InternalError):
                raise InternalError(f"{exc} (resume: {resume})", log=exc.log) from None
            raise UserError(f"{exc} (resume: {resume})") from None
    _print_decision(record)
    for path in record.get("outputs", {}).get("report", []):
        out.print(f"report: {path}")
    out.print(str(run.folder))


def _print_decision(record: dict) -> None:
    decision = record.get("decision") or {}
    colour = "green" if decision.get("decision") == "promote" else "red"
    out.print(f"decision: [bold {colour}]{decision.get('decision', 'none')}[/]")
    for reason in decision.get("reasons", []):
        out.print(f"  - {reason}", highlight=False)


@pipeline_app.command("stage")
def stage_command(
    stage: Annotated[
        str, typer.Argument(help="validate_data, train, evaluate, gate, register or deploy.")
    ],
    run_dir: Annotated[Path, typer.Option(help="The run folder this stage writes.")],
    run_in: Annotated[
        Path | None,
        typer.Option(help="An earlier run folder to continue from (copied into --run-dir)."),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Training data (first stage only).")] = None,
    registry: RegistryDir = Path("registry"),
    registry_out: Annotated[
        Path | None, typer.Option(help="Writable copy of the registry (Azure ML mounts).")
    ] = None,
    artifacts: Annotated[
        str, typer.Option(help="Artifacts folder (relative: inside the run folder).")
    ] = "artifacts",
    copy_artifacts: Annotated[
        bool, typer.Option(help="Store promoted artifacts inside the registry.")
    ] = False,
    name: Annotated[str, typer.Option(help="Model name (first stage only).")] = DEFAULT_NAME,
    target: Annotated[str, typer.Option(help="Label column (first stage only).")] = "y",
    time_budget: Annotated[int, typer.Option(help="AutoML seconds (first stage only).")] = 60,
    max_iter: Annotated[int, typer.Option(help="AutoML trials (first stage only).")] = 20,
    seed: Annotated[int, typer.Option(help="Seed (first stage only).")] = 0,
    trainer: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run one stage on a run folder (what each Azure ML component executes). The first stage
    creates the run and its config; later stages read them from the run folder."""
    from amlstack.pipeline import stages

    if run_in is not None and run_in.resolve() != run_dir.resolve():
        shutil.copytree(run_in, run_dir, dirs_exist_ok=True)
    if registry_out is not None:
        if registry.is_dir():
            shutil.copytree(registry, registry_out, dirs_exist_ok=True)
        registry = registry_out
    if (run_dir / stages.RUN_RECORD).is_file():
        run = stages.open_run(run_dir.parent, run_dir.name)
        run.config.registry = str(registry)
    else:
        if data is None:
            raise UserError(f"{run_dir} holds no run yet: the first stage needs --data")
        config = stages.RunConfig(
            data=str(data), name=name, target=target, runs=str(run_dir.parent),
            registry=str(registry), artifacts=artifacts, time_budget=time_budget,
            max_iter=max_iter, seed=seed, extra={"copy_artifacts": copy_artifacts},
        )  # fmt: skip
        stages.train_config(data, Path(artifacts), config).check()
        run = stages.create_run(config, run_dir.name)
    result = stages.run_stage(run, stage, stages.load_trainer(trainer))
    out.print(f"{stage}: {result['status']}")


@pipeline_app.command("status")
def status_command(
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest).")] = None,
    runs: Runs = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a run record: who, when, inputs, stages, decision."""
    from amlstack.pipeline import stages

    record = stages.open_run(runs, run_id).record()
    record["status"] = stages.run_state(record)
    if as_json:
        print(json.dumps(record, indent=2))
        return
    out.print(
        f"run [bold]{record['run_id']}[/] by {record.get('who')} at {record.get('started_at')}"
    )
    # soft wrap: the resume command stays on one line, copyable
    out.print(f"status {record['status']}{_stopped_hint(record)}", highlight=False, soft_wrap=True)
    out.print(f"data {record['inputs']['data']} sha256 {record['inputs']['data_sha256'][:16]}...")
    for stage, state in record.get("stages", {}).items():
        out.print(f"  {stage:14} {state}")
    _print_decision(record)


def _stopped_hint(record: dict) -> str:
    """How a run that stopped without finishing, or was interrupted, is resumed."""
    from amlstack.pipeline.stages import resume_command, resume_stage

    stage = resume_stage(record)
    if record["status"] not in ("stopped", "interrupted") or stage is None:
        return ""
    owner = record.get("process") or {}
    gone = f": its process (pid {owner.get('pid')}) ended" if record["status"] == "stopped" else ""
    return f" at stage {stage}{gone} (resume: {resume_command(record['run_id'], stage)})"


def _definitions(out_dir: Path, cron: str, compute: str, code: Path, run_inputs):
    from amlstack.pipeline import azure_pipeline
    from amlstack.pipeline.stages import STAGES

    return azure_pipeline.write_definitions(
        out_dir, code=code, stages=STAGES, cron=cron, compute=compute, run_inputs=run_inputs
    )


def _run_inputs(data: str | None, name: str | None, target: str, time_budget: int,
                max_iter: int, seed: int):  # fmt: skip
    """The pipeline job's inputs; the model is named after the data (a data asset's name, or
    the file's), as `pipeline run` names it."""
    from amlstack.pipeline.azure_pipeline import DATA_PATH, RunInputs, data_name
    from amlstack.training.train import model_name

    data = data or DATA_PATH
    return RunInputs(
        data=data, name=name or model_name(data_name(data)),
        target=target, time_budget=time_budget, max_iter=max_iter, seed=seed,
    )  # fmt: skip


AzureDataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="The training data the job reads: an azureml:// or https:// URI of a CSV "
        "(default: the bank data in the workspace's default datastore).",
    ),
]
AzureNameOpt = Annotated[
    str | None, typer.Option("--name", help="Model name (default: the data file's name).")
]
TargetOpt = Annotated[str, typer.Option(help="Label column.")]
BudgetOpt = Annotated[int, typer.Option(help="AutoML seconds.")]
TrialsOpt = Annotated[int, typer.Option(help="AutoML trials.")]


# The components upload a checkout's source; the installed package does not know where one is.
CodeOpt = Annotated[
    Path, typer.Option("--code", help="The amlstack checkout whose source the components run.")
]


AzureDryOpt = Annotated[
    bool | None,
    typer.Option(
        "--dry-run/--live",
        help="Only write and validate the definitions. Default: live when an Azure credential "
        "is found; --live fails without one.",
    ),
]


@pipeline_app.command("publish")
def publish_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the YAML definitions are written.")
    ] = Path("build/azureml"),
    cron: Annotated[str, typer.Option(help="Schedule (cron, UTC).")] = "0 3 * * 1",
    compute: Annotated[str, typer.Option(help="Compute cluster name.")] = "cpu-cluster",
    dry_run: AzureDryOpt = None,
    code: CodeOpt = Path("."),
    data: AzureDataOpt = None,
    name: AzureNameOpt = None,
    target: TargetOpt = "y",
    time_budget: BudgetOpt = 60,
    max_iter: TrialsOpt = 20,
    seed: int = 0,
) -> None:
    """Publish the stages as Azure ML components, a pipeline job and a schedule."""
    from amlstack.pipeline import azure_pipeline

    run_inputs = _run_inputs(data, name, target, time_budget, max_iter, seed)
    files = _definitions(out_dir, cron, compute, code, run_inputs)
    result = azure_pipeline.publish(files, dry_run=dry_run)
    out.print(f"definitions in {out_dir} validate ({len(files) - 1} files)")
    out.print(json.dumps(result), highlight=False)


@pipeline_app.command("trigger")
def trigger_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the YAML definitions are written.")
    ] = Path("build/azureml"),
    compute: Annotated[str, typer.Option(help="Compute cluster name.")] = "cpu-cluster",
    dry_run: AzureDryOpt = None,
    code: CodeOpt = Path("."),
    data: AzureDataOpt = None,
    name: AzureNameOpt = None,
    target: TargetOpt = "y",
    time_budget: BudgetOpt = 60,
    max_iter: TrialsOpt = 20,
    seed: int = 0,
) -> None:
    """Start the published pipeline now."""
    from amlstack.pipeline import azure_pipeline

    run_inputs = _run_inputs(data, name, target, time_budget, max_iter, seed)
    files = _definitions(out_dir, azure_pipeline.DEFAULT_CRON, compute, code, run_inputs)
    out.print(json.dumps(azure_pipeline.trigger(files, dry_run=dry_run)), highlight=False)


# -- registry ---------------------------------------------------------------------------------
def _registry(root: Path, name: str):
    from amlstack.pipeline.registry import Registry

    return Registry(root, name)


@registry_app.command("list")
def registry_list(registry: RegistryDir = Path("registry"), name: Name = None) -> None:
    """Versions with their tags, AUC and the run that made them."""
    from rich.table import Table

    from amlstack.artifact.names import AUC

    versions = _registry(registry, _name(registry, name, DEFAULT_NAME)).versions()
    if not versions:  # a typo in --registry read as an empty one, as a table with no rows
        out.print(f"nothing registered in {registry} (amlstack registry add ARTIFACT)")
        return
    # training's AUC and a run's are on other rows: the table says which each is
    table = Table("version", "tags", AUC, "measured on", "parent", "run", "registered")
    for entry in versions:
        auc = entry.get("metrics", {}).get(AUC, {})
        table.add_row(
            entry["version"], ",".join(entry["tags"]),
            f"{auc['value']:.4f}" if auc.get("value") is not None else "-",
            auc.get("measured_on", "-"),
            str(entry.get("parent") or "-"), str(entry.get("run_id") or "-"),
            entry["registered_at"],
        )  # fmt: skip
    # a pipe or a file has no width: rich's 80 columns would cut the run ids short
    (out if out.is_terminal else Console(width=PIPED_WIDTH)).print(table)


@registry_app.command("add")
def registry_add(
    artifact: Annotated[
        Path, typer.Argument(help="An artifact folder written by `amlstack train`.")
    ],
    data: Annotated[
        Path | None, typer.Option(help="The CSV it was trained on (lineage, rows).")
    ] = None,
    promote: Annotated[bool, typer.Option(help="Tag it production.")] = False,
    registry: RegistryDir = Path("registry"),
    name: Name = None,
) -> None:
    """Register an existing artifact (e.g. the first model, trained by hand) under its own name
    unless --name says otherwise."""
    from amlstack.artifact.reader import Model
    from amlstack.pipeline.bootstrap import add_artifact

    name = name or Model(artifact).name

    entry = add_artifact(_registry(registry, name), artifact, data)
    if promote:
        _registry(registry, name).promote(entry["version"], reason="registered by hand")
    out.print(f"{name} version {entry['version']} registered{' and promoted' if promote else ''}")


@registry_app.command("show")
def registry_show(
    version: Annotated[
        str, typer.Argument(help="Version or tag (production, staging).")
    ] = "production",
    registry: RegistryDir = Path("registry"),
    name: Name = None,
) -> None:
    """One version's entry and lineage, as JSON."""
    name = _name(registry, name, DEFAULT_NAME)
    print(json.dumps(_registry(registry, name).get(version), indent=2))


@registry_app.command("promote")
def registry_promote(
    version: str,
    tag: Annotated[str, typer.Option(help="staging or production.")] = "production",
    registry: RegistryDir = Path("registry"),
    name: Name = None,
) -> None:
    """Point a stage tag at a version (by hand, outside the gate: recorded as such)."""
    name = _name(registry, name, DEFAULT_NAME)
    entry = _registry(registry, name).promote(version, tag, reason="manual promote")
    out.print(f"{name} {tag} -> {entry['version']}")


@registry_app.command("rollback")
def registry_rollback(
    tag: Annotated[str, typer.Option(help="staging or production.")] = "production",
    registry: RegistryDir = Path("registry"),
    name: Name = None,
) -> None:
    """Move a tag back to the version it pointed at before."""
    name = _name(registry, name, DEFAULT_NAME)
    entry = _registry(registry, name).rollback(tag)
    out.print(f"{name} {tag} -> {entry['version']} (rolled back)")


# -- drift ------------------------------------------------------------------------------------
def drift_command(
    url: Annotated[str, typer.Option(help="Scorer base URL (its /metrics is read).")],
    key: Annotated[str | None, typer.Option(envvar="AMLSTACK_KEY", help="Scoring key.")] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            help="Prometheus URL: read the live counts of every replica it scrapes (a scaled "
            "scorer or one behind a proxy); without it, the scorer's own /metrics."
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="Artifact folder (default: the scorer's own, from its /profile)."),
    ] = None,
    threshold: Annotated[float, typer.Option(help="PSI at or above which a feature drifts.")] = 0.2,
    alpha: Annotated[
        float, typer.Option(help="Significance level of the per-feature test.")
    ] = 0.01,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Compare the scorer's live input profile with the training profile; exit 1 on drift."""
    from amlstack.pipeline import drift

    if model is None:  # the profile of the model the scorer serves: the right one to compare
        training = drift.fetch_training_profile(url, key)
    else:
        training = drift.profile_for_served_bins(
            drift.read_training_profile(model), url, key, f"--model {model}"
        )
    report = drift.compare(
        training,
        drift.fetch_live(url, key, training, prometheus=prometheus),
        threshold=threshold,
        alpha=alpha,
    )
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for line in drift.render_text(report):
            out.print(line, highlight=False)
        judged = [f for f in report["features"].values() if "note" not in f]
        if report["drifted"]:
            verdict = f"drift in {', '.join(report['drifted'])}"
        elif judged:
            verdict = "no drift"
        else:
            verdict = f"not judged: too few live rows (under {drift.MIN_ROWS} per feature)"
        out.print(f"{verdict} ({report['rows']} live rows, PSI threshold {threshold})")
    if report["drifted"]:
        raise typer.Exit(DRIFT_EXIT)


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
    app.add_typer(registry_app, name="registry")
    app.command("drift")(drift_command)
