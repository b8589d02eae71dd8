"""`amlstack azure ...`: plan, push, deploy, promote, rollback, keys, logs, score, benchmark."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from amlstack.azure import specs
from amlstack.azure.batch import ERROR_THRESHOLD
from amlstack.azure.clients import Clients, credential_source
from amlstack.azure.release import ENDPOINT_ENV, REGISTRY_ENV, require_registry
from amlstack.azure.workspace import Workspace, resolve_workspace
from amlstack.commands.azure_options import ConfigOpt, GroupOpt, SubOpt, WsOpt
from amlstack.errors import ExternalError, UserError

console = Console(soft_wrap=True)  # commands and URIs stay copyable
azure_app = typer.Typer(
    help="Azure ML (SDK v2): plan, push, blue/green deploy, keys, logs, score.",
    no_args_is_help=True,
)


def make_clients() -> Clients:
    """The live SDK boundary (tests replace this function with a recorder)."""
    return Clients()


def make_docker() -> Any:
    """The local Docker engine alone, which a dry run may use (tests replace this function)."""
    return Clients().docker()


# -- shared options ----------------------------------------------------------------------
ArtifactOpt = Annotated[
    Path, typer.Option("--artifact", "--model", help="Model artifact directory (<name>/<version>).")
]
RegistryOpt = Annotated[
    str | None,
    typer.Option("--registry", envvar=REGISTRY_ENV, help="ACR name (<name>.azurecr.io)."),
]
RepoOpt = Annotated[str, typer.Option("--repository", help="Repository in the registry.")]


def _name_check(kind: str, source: str) -> Callable[[str | None], str | None]:
    """An option's callback: its value if Azure accepts it as a ``kind`` name (checked before a
    dry run says what it would do, or a plan is written), else one line naming ``source``; an
    empty value is refused too, not taken as the option left out."""

    def check(value: str | None) -> str | None:
        return specs.check_name(value, kind, source=source) if value is not None else None

    return check


_endpoint_name = _name_check("endpoint", f"--endpoint (or {ENDPOINT_ENV})")
_deployment_name = _name_check("deployment", "--deployment")

EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        envvar=ENDPOINT_ENV,
        help="Endpoint name (default amlstack-<model name>).",
        callback=_endpoint_name,
    ),
]
DryOpt = Annotated[
    bool | None,
    typer.Option("--dry-run/--live", help="Default: live when an Azure credential is found."),
]
InstanceOpt = Annotated[
    str, typer.Option("--instance-type", help="Managed online endpoint VM SKU.")
]
CountOpt = Annotated[int, typer.Option("--instance-count", min=1)]
SourceOpt = Annotated[
    str | None,
    typer.Option(help="Local scorer image (default amlstack/scorer:local, as Compose builds it)."),
]
AppInsightsOpt = Annotated[
    str | None,
    typer.Option(
        "--appinsights-connection-string",
        envvar="APPLICATIONINSIGHTS_CONNECTION_STRING",
        help="Passed to the scorer's OpenTelemetry export.",
        show_default=False,
    ),
]


def _workspace(
    config: Path | None, sub: str | None, group: str | None, ws: str | None
) -> Workspace:
    return resolve_workspace(
        config=config, subscription_id=sub, resource_group=group, workspace_name=ws
    )


def live_mode(dry_run: bool | None) -> bool:
    """Decide dry run vs live; a dry run is the default whenever no Azure credential is found."""
    if dry_run:
        console.print("[yellow]dry run:[/] nothing is sent to Azure")
        return False
    source = credential_source()
    if source is None:
        if dry_run is False:
            raise ExternalError(
                "no Azure credential found: run `az login` or set AZURE_CLIENT_ID, "
                "AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
            )
        console.print(
            "[yellow]no Azure credential found (az login / AZURE_CLIENT_* / managed "
            "identity): dry run, nothing is sent to Azure[/]"
        )
        return False
    console.print(f"Azure credential: {source}")
    return True


def _settings(
    artifact: Path,
    registry: str | None,
    repository: str,
    endpoint: str | None,
    instance_type: str,
    instance_count: int,
    appinsights: str | None,
) -> tuple[Any, Any]:
    from amlstack.azure.release import deployment_settings

    return deployment_settings(
        artifact, registry, repository=repository, endpoint=endpoint,
        instance_type=instance_type, instance_count=instance_count, appinsights=appinsights,
    )  # fmt: skip


@azure_app.command("plan")
def plan_cmd(
    artifact: ArtifactOpt,
    registry: RegistryOpt = None,
    repository: RepoOpt = specs.DEFAULT_REPOSITORY,
    endpoint: EndpointOpt = None,
    instance_type: InstanceOpt = specs.DEFAULT_INSTANCE_TYPE,
    instance_count: CountOpt = specs.DEFAULT_INSTANCE_COUNT,
    appinsights: AppInsightsOpt = None,
    source_image: SourceOpt = None,
    automl_data: Annotated[
        Path | None, typer.Option(help="Also write an AutoML job for this CSV.")
    ] = None,
    target: Annotated[str, typer.Option(help="Target column for --automl-data.")] = "y",
    compute: Annotated[str, typer.Option(help="AutoML compute cluster.")] = "cpu-cluster",
    out: Annotated[Path, typer.Option(help="Folder for the plan.")] = Path("azure-plan"),
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Write the image ref, endpoint/deployment (and AutoML job) YAML and commands; offline."""
    from amlstack.azure import plan as planning
    from amlstack.azure.automl import automl_job_spec, check_data

    ws = _workspace(config, subscription_id, resource_group, workspace)
    _, settings = _settings(
        artifact, registry, repository, endpoint, instance_type, instance_count, appinsights
    )
    automl = specs.AutoMLSettings(target=target, compute=compute)
    checked = None
    if automl_data is not None:  # before anything is written: no half plan on a bad file
        checked = check_data(automl_data, target)
    plan = planning.Plan(
        ws, settings, source_image or planning.default_source_image(), artifact=artifact
    )
    planning.write_plan(plan, out, sample_input=artifact / "sample_input.json")
    if automl_data is None and (out / "automl").exists():
        console.print(
            f"[yellow]note[/]: {out / 'automl'} is from an earlier plan; this one has no AutoML "
            "job (--automl-data)",
            highlight=False,
        )
    if automl_data is not None:
        job = automl_job_spec(automl_data, target, out / "automl", automl, checked=checked)
        plan.files["automl_job"] = str(job)
        (out / "plan.json").write_text(json.dumps(planning.plan_document(plan), indent=2) + "\n")
    console.print(f"image        {settings.image}")
    console.print(f"endpoint     {settings.endpoint} (auth_mode key) in {ws.workspace_name}")
    for kind, path in plan.files.items():
        console.print(f"{kind:<13}{path}", highlight=False)
    typer.echo(str(out))


def check_source_locally(source: str, artifact: Path) -> None:
    """The real push's check that ``source`` serves ``artifact``, when local Docker answers: a
    dry run must not show a push that would put another model under this model's tag. A missing
    or mismatched image fails as the push would; no Docker only skips the check, saying so."""
    from amlstack.azure import registry_push

    try:
        docker = make_docker()
    except UserError as exc:  # the docker package is missing, or no engine answers
        skipped = str(exc)
    else:
        try:
            registry_push.verify_source(docker, source, artifact)
            skipped = ""
        except ExternalError as exc:  # the engine failed mid-way; not-found/mismatch propagate
            skipped = str(exc)
    if skipped:
        console.print(
            f"[yellow]{escape(f'not checked that {source} serves {artifact}: {skipped}')}[/]",
            highlight=False,
        )
        return
    console.print(f"checked: {source} serves {artifact}", highlight=False)


@azure_app.command("push")
def push_cmd(
    artifact: ArtifactOpt,
    registry: RegistryOpt = None,
    repository: RepoOpt = specs.DEFAULT_REPOSITORY,
    source_image: SourceOpt = None,
    dry_run: DryOpt = None,
) -> None:
    """Tag the scorer image <registry>.azurecr.io/<repo>:<model name>-<version> and push it."""
    from amlstack.azure import registry_push
    from amlstack.azure.plan import default_source_image, read_model

    model = read_model(artifact)
    target = specs.image_ref(require_registry(registry), repository, model.name, model.version)
    source = source_image or default_source_image()
    server = registry_push.login_server(target)
    use_credential = credential_source() is not None
    logged_in = use_credential or registry_push.docker_config_has_login(server)
    if dry_run or (dry_run is None and not logged_in):
        why = "" if dry_run else f"no Azure credential and no docker login for {server}: "
        console.print(f"[yellow]{why}dry run, nothing is pushed[/]")
        check_source_locally(source, artifact)
        tag, push = (
            shlex.join(["docker", "tag", source, target]),
            shlex.join(["docker", "push", target]),
        )
        console.print(f"would run: {tag} && {push}", highlight=False)
        return
    if not logged_in:
        raise ExternalError(
            f"no credential for {server}: run `az login` or `az acr login -n {registry}`"
        )
    with console.status(f"pushing {target}") as status:
        digest = registry_push.push(
            make_clients(),
            source,
            target,
            use_azure_credential=use_credential,
            artifact=artifact,
            progress=lambda line: status.update(line),
        )
    console.print(f"pushed {target} ({digest})")
    typer.echo(target)


@azure_app.command("deploy")
def deploy_cmd(
    artifact: ArtifactOpt,
    registry: RegistryOpt = None,
    repository: RepoOpt = specs.DEFAULT_REPOSITORY,
    endpoint: EndpointOpt = None,
    instance_type: InstanceOpt = specs.DEFAULT_INSTANCE_TYPE,
    instance_count: CountOpt = specs.DEFAULT_INSTANCE_COUNT,
    appinsights: AppInsightsOpt = None,
    canary: Annotated[
        int | None, typer.Option(min=1, max=100, help="Traffic % for the new deployment.")
    ] = None,
    slot: Annotated[
        str | None,
        typer.Option(
            help="Deployment name (default: the idle blue/green slot).",
            callback=_name_check("deployment", "--slot"),
        ),
    ] = None,
    push: Annotated[bool, typer.Option(help="Push the image first (as `push` does).")] = False,
    source_image: SourceOpt = None,
    dry_run: DryOpt = None,
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Blue/green: new deployment at 0%, smoke test, then traffic (never before the test passes)."""
    from amlstack.artifact.reader import Model
    from amlstack.azure import plan as planning
    from amlstack.azure.release import release

    ws = _workspace(config, subscription_id, resource_group, workspace)
    _, settings = _settings(
        artifact, registry, repository, endpoint, instance_type, instance_count, appinsights
    )
    if slot:  # the dry run shows it (its callback checked it)
        settings = replace(settings, deployment=slot)
    if not live_mode(dry_run):
        source = source_image or planning.default_source_image()
        plan = planning.Plan(ws, settings, source, artifact=artifact, canary=canary)
        for line in planning.deploy_commands(plan):
            typer.echo(line)
        return
    rows = Model(artifact).sample_input()
    clients = make_clients()
    with console.status("deploying") as status:

        def progress(step: str, message: str) -> None:
            status.update(message)
            console.print(f"[bold]{step:<10}[/] {message}", highlight=False)

        result = release(
            clients,
            ws,
            settings,
            rows,
            source_image=(source_image or planning.default_source_image()) if push else None,
            use_azure_credential=True,
            artifact=artifact,
            canary=canary,
            slot=slot,
            progress=progress,
        )
    console.print(
        f"{result.deployment} is live: traffic {result.traffic}; scoring URI {result.scoring_uri}"
    )
    if canary and canary < 100:
        console.print(
            f"finish with `amlstack azure promote --endpoint {result.endpoint} "
            f"--deployment {result.deployment}` or undo with `amlstack azure rollback`"
        )


def _ml(config: Path | None, sub: str | None, group: str | None, ws: str | None, what: str) -> Any:
    """The workspace's MLClient; without a credential, say what would be done and stop (exit 0)."""
    workspace = _workspace(config, sub, group, ws)
    if not live_mode(None):
        typer.echo(f"would {what} in workspace {workspace.workspace_name}")
        raise typer.Exit(0)
    return make_clients().ml_client(workspace)


EndpointReq = Annotated[
    str,
    typer.Option("--endpoint", envvar=ENDPOINT_ENV, help="Endpoint name.", callback=_endpoint_name),
]


@azure_app.command("rollback")
def rollback_cmd(
    endpoint: EndpointReq,
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Restore the traffic split that the last deploy/promote replaced."""
    from amlstack.azure.deploy import rollback

    what = f"restore the previous traffic split of {endpoint}"
    ml = _ml(config, subscription_id, resource_group, workspace, what)
    before, after = rollback(ml, endpoint)
    console.print(f"traffic {before} -> {after}")


@azure_app.command("promote")
def promote_cmd(
    endpoint: EndpointReq,
    deployment: Annotated[
        str, typer.Option(help="Deployment that takes all traffic.", callback=_deployment_name)
    ],
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Finish a canary: the deployment takes 100% of the traffic."""
    from amlstack.azure.deploy import promote

    what = f"give {deployment} all traffic of {endpoint}"
    ml = _ml(config, subscription_id, resource_group, workspace, what)
    console.print(f"traffic -> {promote(ml, endpoint, deployment)}")


@azure_app.command("keys")
def keys_cmd(
    endpoint: EndpointReq,
    show: Annotated[bool, typer.Option(help="Print the keys in full.")] = False,
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """The endpoint's primary and secondary keys (masked unless --show)."""
    from amlstack.azure.failures import azure_call

    ml = _ml(
        config, subscription_id, resource_group, workspace, f"read the keys of endpoint {endpoint}"
    )
    with azure_call(f"endpoint {endpoint} keys"):
        keys = ml.online_endpoints.get_keys(endpoint)
    for label, key in (("primary", keys.primary_key), ("secondary", keys.secondary_key)):
        typer.echo(f"{label}: {key if show else (key or '')[:4] + '…'}")


@azure_app.command("logs")
def logs_cmd(
    endpoint: EndpointReq,
    deployment: Annotated[
        str, typer.Option(help="Deployment name.", callback=_deployment_name)
    ] = specs.DEPLOYMENT_SLOTS[0],
    lines: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    storage_initializer: Annotated[
        bool, typer.Option(help="Logs of the image pull/model mount.")
    ] = False,
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """The last lines of a deployment's container log."""
    from amlstack.azure.failures import azure_call

    ml = _ml(
        config,
        subscription_id,
        resource_group,
        workspace,
        f"read the log of {endpoint}/{deployment}",
    )
    container = "storage-initializer" if storage_initializer else None
    with azure_call(f"logs of {deployment}"):
        text = ml.online_deployments.get_logs(
            name=deployment, endpoint_name=endpoint, lines=lines, container_type=container
        )
    typer.echo(text)


@azure_app.command("score")
def score_cmd(
    endpoint: EndpointReq,
    data: Annotated[
        Path, typer.Option(help='JSON file {"data": [records]} (e.g. sample_input.json).')
    ],
    deployment: Annotated[
        str | None, typer.Option(help="Score on this deployment only.", callback=_deployment_name)
    ] = None,
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """POST records to the live endpoint with its key (fetched for you); print the answer."""
    from amlstack.azure.deploy import DEPLOYMENT_HEADER
    from amlstack.azure.failures import azure_call

    try:
        body = json.loads(data.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{data}: not a readable JSON file ({exc})") from None
    ml = _ml(
        config, subscription_id, resource_group, workspace, f"score {data} on endpoint {endpoint}"
    )
    with azure_call(f"endpoint {endpoint}"):
        uri = ml.online_endpoints.get(endpoint).scoring_uri
        key = ml.online_endpoints.get_keys(endpoint).primary_key
    headers = {"Authorization": f"Bearer {key}"} | (
        {DEPLOYMENT_HEADER: deployment} if deployment else {}
    )
    with azure_call(f"POST {uri}"):
        response = make_clients().http().post(uri, json=body, headers=headers, timeout=60)
    if response.status_code != 200:
        raise ExternalError(f"{uri}: HTTP {response.status_code}: {response.text[:300]}")
    typer.echo(response.text)


@azure_app.command("benchmark")
def benchmark_cmd(
    endpoint: EndpointReq,
    locustfile: Annotated[
        Path, typer.Option(help="The same Locust file as the local stack.")
    ] = Path("loadtest/locustfile.py"),
    users: Annotated[int, typer.Option(min=1, max=200)] = specs.BENCHMARK_USERS,
    duration: Annotated[str, typer.Option(help="Locust --run-time.")] = "1m",
    config: ConfigOpt = None,
    subscription_id: SubOpt = None,
    resource_group: GroupOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Run Locust headless against the live endpoint (bounded by --run-time) with its key."""
    from amlstack.azure.failures import azure_call
    from amlstack_scorer import contract

    if not shutil.which("locust"):
        raise UserError("locust is not installed: pip install 'amlstack[loadtest]'")
    if not locustfile.is_file():
        raise UserError(f"{locustfile}: no such Locust file")
    ml = _ml(
        config,
        subscription_id,
        resource_group,
        workspace,
        f"run Locust against endpoint {endpoint}",
    )
    with azure_call(f"endpoint {endpoint}"):
        uri = ml.online_endpoints.get(endpoint).scoring_uri
        key = ml.online_endpoints.get_keys(endpoint).primary_key
    host = uri.removesuffix(contract.SCORING_ROUTE)
    env = os.environ | {contract.PRIMARY_KEY_ENV: key}
    command = [
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "-H",
        host,
        "-u",
        str(users),
        "-r",
        str(users),
        "--run-time",
        duration,
        "--only-summary",
    ]
    raise typer.Exit(subprocess.run(command, env=env, check=False).returncode)


@azure_app.command("batch-plan")
def batch_plan_cmd(
    artifact: ArtifactOpt,
    compute: Annotated[str, typer.Option(help="Compute cluster the jobs run on.")] = "cpu-cluster",
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="Batch endpoint name (default amlstack-<model>-batch).",
            callback=_name_check("endpoint", "--endpoint"),
        ),
    ] = None,
    instance_count: Annotated[int, typer.Option(min=1, help="Nodes per job.")] = 1,
    mini_batch_size: Annotated[int, typer.Option(min=1, help="Files per run() call.")] = 4,
    error_threshold: Annotated[
        int,
        typer.Option(
            min=0,
            help="Files that may fail to score before Azure ends the job as failed "
            "(0: the first one does).",
        ),
    ] = ERROR_THRESHOLD,
    out: Annotated[Path, typer.Option(help="Folder for the plan.")] = Path("azure-batch-plan"),
) -> None:
    """Write an Azure ML batch endpoint and model deployment for an artifact; offline."""
    from amlstack.azure.batch import write_plan_for

    files = write_plan_for(
        artifact, out, compute=compute, endpoint=endpoint, instance_count=instance_count,
        mini_batch_size=mini_batch_size, error_threshold=error_threshold,
    )  # fmt: skip
    for kind, path in files.items():
        typer.echo(f"{kind:<17}{path}")


def register(app: typer.Typer) -> None:
    app.add_typer(azure_app, name="azure")
