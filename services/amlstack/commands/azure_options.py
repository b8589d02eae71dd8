"""Workspace options shared by `amlstack azure ...` and `amlstack train --backend azure`.

Only typer here, so the training CLI can offer them without importing the Azure SDK.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Azure ML config.json of the workspace.")
]
SubOpt = Annotated[str | None, typer.Option("--subscription-id", help="Or AZURE_SUBSCRIPTION_ID.")]
GroupOpt = Annotated[str | None, typer.Option("--resource-group", help="Or AZURE_RESOURCE_GROUP.")]
WsOpt = Annotated[str | None, typer.Option("--workspace", help="Or AZUREML_WORKSPACE_NAME.")]
