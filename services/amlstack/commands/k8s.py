"""`amlstack k8s plan`: Kubernetes and KServe manifests for an artifact's scorer image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from amlstack import k8s  # needs pyyaml: without the k8s extra the CLI names the extra
from amlstack_scorer import contract

k8s_app = typer.Typer(
    help="Kubernetes: manifests for the scorer image (plain resources or KServe).",
    no_args_is_help=True,
)


@k8s_app.command("plan")
def plan_cmd(
    artifact: Annotated[Path, typer.Option(help="Artifact folder the image was built from.")],
    image: Annotated[str, typer.Option(help="Scorer image, pinned by tag or digest.")],
    out: Annotated[Path, typer.Option(help="Folder for the manifests.")] = Path("k8s-plan"),
    name: Annotated[
        str | None, typer.Option(help="Resource name (default: amlstack-<model name>).")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Namespace to put in the manifests.")
    ] = None,
    min_replicas: Annotated[int, typer.Option(help="Fewest pods (the HPA's floor).")] = 2,
    max_replicas: Annotated[int, typer.Option(help="Most pods the HPA may run.")] = 10,
    cpu_target: Annotated[int, typer.Option(help="HPA target: average CPU % of requests.")] = 70,
    workers: Annotated[
        int, typer.Option(help="gunicorn workers per pod.")
    ] = contract.DEFAULT_WORKERS,
    cpu_request: Annotated[str, typer.Option(help="CPU reserved per pod.")] = "500m",
    cpu_limit: Annotated[str, typer.Option(help="CPU cap per pod.")] = "2",
    memory_request: Annotated[str, typer.Option(help="Memory reserved per pod.")] = "512Mi",
    memory_limit: Annotated[str, typer.Option(help="Memory cap per pod.")] = "1Gi",
) -> None:
    """Write Deployment, Service, HPA, PDB, kustomization and a KServe InferenceService."""
    from amlstack.artifact.reader import Model

    model = Model(artifact, verify=True)  # the manifests name a model that loads
    model.check_served_files()  # ... and that the scorer starts on
    settings = k8s.K8sSettings(
        name=name or k8s.resource_name(model.name),
        image=image,
        model_name=model.name,
        model_version=model.version,
        namespace=namespace,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu_target_percent=cpu_target,
        workers=workers,
        resources=k8s.Resources(cpu_request, cpu_limit, memory_request, memory_limit),
    )
    for kind, path in k8s.write_plan(settings, out).items():
        typer.echo(f"{kind:>24}  {path}")
    typer.echo(f"next: sh {out / 'commands.sh'}  (see docs/kubernetes.md)", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(k8s_app, name="k8s")
