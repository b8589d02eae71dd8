"""The scoring script of the Azure ML batch deployment (Azure's ``init()``/``run()`` contract).

Azure copies the plan's ``code/`` folder (this file plus the amlstack modules it imports) to each
node, mounts the registered artifact under ``AZUREML_MODEL_DIR`` and calls ``run`` with a list of
input files per mini-batch. Each file is scored by ``amlstack predict``'s own function, so a batch
job and a local run give the same columns and the same probabilities; the scored CSVs go to the
job's output folder (``AZUREML_BI_OUTPUT_PATH``) under the input file's name; a second input
of that name, from another folder, is refused rather than overwrite the first one's scores (in
one worker: workers do not see each other's files).

The artifact is loaded once, in ``init``: one that cannot be read (a wrong
``AMLSTACK_MODEL_DIR``, a changed file) fails the job at its start, not each file in turn.
A file that cannot be scored (empty, other columns, a cell the model refuses, or a bug met on it,
with its traceback) is named in the job's log and left out of ``run``'s result, which is how
Azure counts it as failed; the other files of its mini-batch are still scored. An I/O error or
running out of memory raises instead: that fails the whole mini-batch, which Azure retries.
Past the deployment's ``error_threshold`` failed files Azure ends the job as failed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from amlstack.artifact.reader import Model
from amlstack.errors import UserError
from amlstack.predict import predict_csv

log = logging.getLogger("amlstack.batch")

MODEL_FOLDER_ENV = "AMLSTACK_MODEL_DIR"  # the artifact's folder inside the registered model
OUTPUT_ENV = "AZUREML_BI_OUTPUT_PATH"

_model: Model | None = None
_output_dir: Path | None = None
_sources: dict[str, Path] = {}  # output name -> the input file it was scored from


def init() -> None:
    """Load the artifact and locate the output folder once per worker process; an artifact
    that cannot be read raises here, which fails the job instead of every file."""
    global _model, _output_dir
    _sources.clear()
    root = Path(os.environ["AZUREML_MODEL_DIR"])
    # a slice of each chunk per CPU, as `amlstack predict` scores
    _model = Model(root / os.environ.get(MODEL_FOLDER_ENV, ""), parallel_batches=True)
    _output_dir = Path(os.environ[OUTPUT_ENV])
    _output_dir.mkdir(parents=True, exist_ok=True)


def run(mini_batch: list[str]) -> list[str]:
    """Score each input file; one summary line per file goes to Azure's job log."""
    if _model is None or _output_dir is None:
        raise RuntimeError("init() was not called")
    results = []
    for name in mini_batch:
        source = Path(name)
        first = _sources.get(source.name, source)
        if first != source:  # a retried mini-batch rescores the same path: that may overwrite
            log.error(
                "%s: not scored: %s holds the scores of %s already (the outputs are named after "
                "their inputs: give the input files distinct names)",
                source, source.name, first,
            )  # fmt: skip
            continue
        try:
            rows = predict_csv(_model, source, _output_dir / source.name)
        except UserError as exc:  # this file only: the rest of the mini-batch is still scored
            log.error("%s: not scored: %s", source.name, exc)
            continue
        except (OSError, MemoryError):
            raise  # the node's trouble, not the file's: Azure retries the mini-batch
        except Exception:  # a bug, met on this file: its traceback goes to the job's log
            log.exception("%s: not scored: an amlstack bug (its traceback follows)", source.name)
            continue
        _sources[source.name] = source
        results.append(f"{source.name}: {rows} rows")
    return results
