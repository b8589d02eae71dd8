"""`amlstack train`, `amlstack predict` and `amlstack models`."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from amlstack.artifact.names import ACCURACY, AUC, F1, LOG_LOSS
from amlstack.commands.azure_options import ConfigOpt, GroupOpt, SubOpt, WsOpt
from amlstack.errors import UserError
from amlstack.training import defaults

console = Console()


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("predict")(predict)
    app.command("models")(models)


def train(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Option(help="Training CSV (comma, semicolon, tab or pipe separated).")
    ] = Path("data/bankmarketing_train.csv"),
    target: Annotated[str, typer.Option(help="Column to predict.")] = "y",
    out: Annotated[Path, typer.Option(help="Artifact root: writes OUT/NAME/VERSION/.")] = Path(
        "artifacts"
    ),
    name: Annotated[str | None, typer.Option(help="Model name (default: the CSV's stem).")] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="Seconds for the whole run (search, refit, export).")
    ] = defaults.TIME_BUDGET_S,
    max_iter: Annotated[
        int | None,
        typer.Option(
            help="Trial budget, shared among the learners by their weight, at least 3 trials "
            "each; with it and no --time-budget a run is reproducible."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the splits and the search.")] = 42,
    metric: Annotated[str, typer.Option(help="auc, auc_weighted, accuracy, log_loss, f1, ...")] = (
        "auc"
    ),
    drop: Annotated[
        list[str] | None, typer.Option(help="Column to leave out (repeatable).")
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            help="Column to keep though it reads as an identifier or a row number, such as a "
            "rank (repeatable)."
        ),
    ] = None,
    learners: Annotated[
        str, typer.Option(help="Comma-separated learners to search.")
    ] = defaults.LEARNERS,
    test_size: Annotated[float, typer.Option(help="Share of rows held out for the report.")] = 0.2,
    backend: Annotated[
        str, typer.Option(help="local (default) or azure (Azure AutoML).")
    ] = "local",
    context: Annotated[
        list[str] | None,
        typer.Option(
            help="Columns whose combination gets a target-rate feature, comma-separated "
            "(repeatable; 'none' for no context). Default: the shipped data's recipe when "
            "training on it, else none."
        ),
    ] = None,
    max_trees: Annotated[
        int, typer.Option(help="Trees allowed in the final model (bounds prediction time).")
    ] = defaults.MAX_TREES,
    no_time_limit: Annotated[
        bool, typer.Option("--no-time-limit", help="Only --max-iter bounds the search.")
    ] = False,
    compute: Annotated[
        str, typer.Option(help="--backend azure: the AutoML compute cluster.")
    ] = "cpu-cluster",
    sign_key: Annotated[
        Path | None,
        typer.Option(
            help="Ed25519 private key (PEM, unencrypted): sign the artifact's manifest "
            "(MANIFEST.sig), for scorers given the public key (AMLSTACK_MANIFEST_PUBLIC_KEY)."
        ),
    ] = None,
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Search for the best model on a CSV and write a new versioned artifact."""
    if backend == "azure":
        local_only = ("metric", "learners", "test_size", "context", "max_trees", "no_time_limit",
                      "seed", "sign_key", "keep")  # fmt: skip
        given = _given(ctx, local_only)
        if given:
            raise UserError(
                f"{given[0]} applies to local training only; Azure AutoML chooses its own "
                "(AUC_weighted, 5-fold cross-validation)"
            )
        ws = (config, subscription_id, resource_group, workspace)
        _train_azure(data, target, name, time_budget, max_iter, out, tuple(drop or ()), compute, ws)
        return
    if backend != "local":
        raise UserError(f"--backend {backend}: choose local or azure")
    azure_only = ("compute", "config", "subscription_id", "resource_group", "workspace")
    given = _given(ctx, azure_only)
    if given:
        raise UserError(f"{given[0]} applies to --backend azure only")
    from amlstack.training.train import TrainConfig
    from amlstack.training.train import train as run

    if no_time_limit and max_iter is None:
        raise UserError("--no-time-limit needs --max-iter (otherwise nothing bounds the search)")
    config = TrainConfig(
        contexts=_contexts(context, data, target),
        data=data,
        target=target,
        out=out,
        name=name,
        time_budget=None if no_time_limit else time_budget,
        max_iter=max_iter,
        seed=seed,
        metric=metric.lower(),
        drop=tuple(drop or ()),
        keep=tuple(keep or ()),
        learners=tuple(x.strip() for x in learners.split(",") if x.strip()),
        test_size=test_size,
        max_trees=max_trees,
        sign_key=sign_key,
    )
    with _interrupts() as interrupted, _LiveProgress(config.time_budget) as show:
        result = run(config, on_progress=show, notice=show.notice, stopped=interrupted.is_set)
    _print_leaderboard(result)
    console.print(result.path)


def _contexts(given: list[str] | None, data: Path, target: str) -> tuple[tuple[str, ...], ...]:
    from amlstack.training.context import BANK_CONTEXTS

    if given is None:
        shipped = data.resolve() == Path("data/bankmarketing_train.csv").resolve()
        return BANK_CONTEXTS if shipped and target == "y" else ()
    if [g.lower() for g in given] == ["none"]:
        return ()
    groups = (tuple(c.strip() for c in g.split(",") if c.strip()) for g in given)
    return tuple(group for group in groups if group)  # "," names no column: no context


def _train_azure(data, target, name, time_budget, max_iter, out, drop, compute, ws) -> None:
    """Azure AutoML (SDK v2): submit, stream status, turn the best ONNX model into an artifact."""
    try:
        from amlstack.azure.automl import train_on_azure
        from amlstack.azure.specs import AutoMLSettings
        from amlstack.azure.workspace import resolve_workspace
    except ModuleNotFoundError as exc:
        raise UserError(
            f"--backend azure needs the azure extra: pip install 'amlstack[azure]' ({exc.name})"
        ) from None
    from amlstack.training.store import check_name
    from amlstack.training.train import default_name

    # before the job: the artifact is named only once it has run, up to hours later
    name = check_name(name or default_name(data))
    config, subscription_id, resource_group, workspace_name = ws
    workspace = resolve_workspace(
        config=config, subscription_id=subscription_id, resource_group=resource_group,
        workspace_name=workspace_name,
    )  # fmt: skip
    settings = AutoMLSettings.from_budget(target, compute, time_budget, max_iter)
    path = train_on_azure(
        data, target, out=out, name=name, progress=console.print,
        settings=settings, workspace=workspace, drop=drop,
    )  # fmt: skip
    if path is None:
        console.print("dry run: the AutoML job YAML was written; nothing was submitted")
    else:
        console.print(path)


class _LiveProgress:
    """A one-line live display: elapsed/budget, learner, trials, best validation score."""

    def __init__(self, budget: float | None) -> None:
        from rich.live import Live

        self.budget = budget
        self.started = time.monotonic()
        self.live = Live(console=Console(stderr=True), refresh_per_second=4, transient=True)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def notice(self, line: str) -> None:
        """A decision the user should know of, printed above the live line (once)."""
        self.live.console.print(f"[yellow]notice[/] {escape(line)}", highlight=False)

    def __call__(self, progress) -> None:
        elapsed = time.monotonic() - self.started
        budget = f"/{self.budget:.0f}s" if self.budget else "s (no time limit)"
        best = "—" if progress.best_score != progress.best_score else f"{progress.best_score:.4f}"
        self.live.update(
            f"[bold]searching[/] {elapsed:5.0f}{budget}  learner [cyan]{progress.learner}[/] "
            f"({progress.learners_done}/{progress.learners_total})  trials {progress.trials}  "
            f"best {best} ({progress.best_learner or '—'})"
        )


@contextlib.contextmanager
def _interrupts() -> Iterator[threading.Event]:
    """Ctrl-C during training: the event is set (so an interrupt a learner swallows still stops
    the run before anything is written) and KeyboardInterrupt raised as usual; the train_dir
    folders CatBoost leaves in the working folder when stopped mid-fit are removed."""
    interrupted = threading.Event()

    def handler(signum, frame):
        interrupted.set()
        raise KeyboardInterrupt

    def unraisable(info) -> None:  # raised inside a C callback (XGBoost's): not a traceback
        if not issubclass(info.exc_type, KeyboardInterrupt):
            hook(info)

    cwd = Path.cwd()
    before = set(cwd.glob("catboost_*"))
    previous, hook = signal.signal(signal.SIGINT, handler), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield interrupted
    except (Exception, KeyboardInterrupt) as exc:
        # after Ctrl-C, any error is the interrupt in a library's words (XGBoost's own error)
        if not (interrupted.is_set() or isinstance(exc, KeyboardInterrupt)):
            raise
        # typer exits 130 on KeyboardInterrupt without a word
        Console(stderr=True).print("[yellow]interrupted[/]: no model written")
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook
        for folder in set(cwd.glob("catboost_*")) - before:
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)


def _print_leaderboard(result) -> None:
    table = Table(title="Leaderboard (validation or out-of-fold score; AUC on held-out rows)")
    for column in ("rank", "model", "validation", "held-out AUC", "weight", "trials", "seconds"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in result.leaderboard:
        table.add_row(
            str(row["rank"]), row["model"], f"{row['val_score']:.4f}",
            f"{row['holdout_auc']:.4f}", f"{row['weight']:.2f}" if row["weight"] else "",
            str(row["trials"]), f"{row['seconds']:.0f}",
        )  # fmt: skip
    console.print(table)
    m = result.metrics
    console.print(
        f"[bold]held-out[/] ({m['rows']} rows the measured model never saw): AUC {m[AUC]:.4f}  "
        f"accuracy {m[ACCURACY]:.4f}  F1 {m[F1]:.4f}  log loss {m[LOG_LOSS]:.4f}"
        + (f"  threshold {m['threshold']:.3f}" if m.get("threshold") is not None else "")
    )
    console.print(f"measured model: {result.measured_model}")


def _given(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` typed on the command line (a default, even typed, is not)."""
    # By name: recent typer vendors click, so its ParameterSource is not click's class.
    sources = {n: ctx.get_parameter_source(n) for n in names}
    typed = [n for n, source in sources.items() if getattr(source, "name", "") == "COMMANDLINE"]
    return [f"--{n.replace('_', '-')}" for n in typed]


def predict(
    model: Annotated[Path, typer.Option(help="Artifact folder (artifacts/NAME/VERSION).")],
    input: Annotated[
        str, typer.Option("--input", help="CSV to score (spark: CSV or Parquet, any Spark URI).")
    ],
    output: Annotated[
        str, typer.Option(help="CSV to write (spark: a .csv or .parquet output folder).")
    ],
    engine: Annotated[
        str, typer.Option(help="local (streamed, one machine) or spark (distributed).")
    ] = "local",
    master: Annotated[
        str | None,
        typer.Option(help="--engine spark: Spark master, e.g. local[4] (default: Spark's config)."),
    ] = None,
) -> None:
    """Score a file in batch: input columns plus probability and label columns."""
    started = time.monotonic()
    if engine == "spark":
        from amlstack.spark_predict import predict_spark

        rows = predict_spark(model, input, output, master=master)
    elif engine == "local":
        if master is not None:
            raise UserError("--master applies to --engine spark only")
        if output.endswith(("/", os.sep)):  # Path() drops the slash that says "a folder"
            raise UserError(f"--output {output}: a folder; name the file to write")
        from amlstack.predict import predict_csv

        def notice(line: str) -> None:
            console.print(f"[yellow]notice[/] {escape(line)}", highlight=False)

        rows = predict_csv(model, Path(input), Path(output), notice=notice)
    else:
        raise UserError(f"--engine {engine}: choose local or spark")
    seconds = time.monotonic() - started
    console.print(f"scored {rows} rows in {seconds:.1f}s -> {output}")


def _figure(value) -> str:
    """A metric to 4 decimals; blank when absent or not a number (a hand-edited model.json)."""
    return f"{value:.4f}" if isinstance(value, int | float) else ""


def models(
    root: Annotated[Path, typer.Option(help="Artifact root to list.")] = Path("artifacts"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines for scripts.")] = False,
) -> None:
    """List the model artifacts present, with version, metrics and creation time."""
    import json

    from amlstack.training.store import list_models

    if root.exists() and not root.is_dir():
        raise UserError(f"--root {root}: a file, not the folder artifacts are written to")
    rows = list_models(root)
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    if not rows:
        where = "under" if root.is_dir() else "(no such folder)"
        console.print(f"no artifacts {where} {root} (run `amlstack train`, or give --root)")
        return
    table = Table()
    # the name and the path (what `predict --model` takes) wrap on a narrow terminal, never
    # cut short with "…"
    for column in ("name", "version", "created", "model", AUC, ACCURACY, "path"):
        table.add_column(
            column, overflow="fold" if column in ("name", "model", "path") else "ellipsis"
        )
    for row in rows:
        auc, acc = row.get(AUC), row.get(ACCURACY)
        table.add_row(  # the artifact's own texts are text, not rich markup ("[/]" crashed)
            escape(row["name"]), escape(row["version"]), escape(row.get("created", "")),
            escape(row.get("model", "")) if row["ok"] else f"[red]{escape(row['problem'])}[/]",
            _figure(auc), _figure(acc), escape(row["path"]),
        )  # fmt: skip
    console.print(table)
