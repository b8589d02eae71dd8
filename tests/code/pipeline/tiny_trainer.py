"""A seconds-fast trainer with the pipeline's Trainer signature, writing a real artifact.

The pipeline's production trainer is `amlstack train` (FLAML); these tests swap in a logistic
regression so a whole pipeline run takes seconds. The artifact is written by the real writer
(`amlstack.artifact.writer`), so it is in the format the trainer writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from amlstack.artifact.names import ONNX_INPUT, ONNX_OUTPUT
from amlstack.artifact.profile import build_profile
from amlstack.artifact.schema import card_from_dict
from amlstack.artifact.writer import write_artifact as write_files


def features_of(frame: pd.DataFrame) -> list[dict]:
    out = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col):
            is_int = pd.api.types.is_integer_dtype(col)
            out.append(
                {"name": name, "kind": "numeric", "dtype": "int" if is_int else "float",
                 "min": float(col.min()), "max": float(col.max()), "nullable": False}
            )  # fmt: skip
        else:
            cats = sorted(col.dropna().astype(str).unique())
            out.append({"name": name, "kind": "categorical", "dtype": "string", "categories": cats})
    return out


def encode(frame: pd.DataFrame, features: list[dict]) -> np.ndarray:
    out = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, f in enumerate(features):
        col = frame[f["name"]]
        if f["kind"] == "categorical":
            codes = {c: i for i, c in enumerate(f["categories"])}
            out[:, j] = [codes.get(v, -1) for v in col.astype(str)]
        else:
            out[:, j] = col.to_numpy(dtype=np.float32)
    return out


def onnx_bytes(x: np.ndarray, y: np.ndarray, c: float) -> bytes:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300))
    pipe.fit(x, y)
    onx = to_onnx(pipe, x[:1], options={id(pipe.steps[-1][1]): {"zipmap": False}}, target_opset=17)
    graph = onx.graph
    old_in, prob_out = graph.input[0].name, graph.output[1].name
    for node in graph.node:
        node.input[:] = [ONNX_INPUT if n == old_in else n for n in node.input]
        node.output[:] = [ONNX_OUTPUT if n == prob_out else n for n in node.output]
    graph.input[0].name = ONNX_INPUT
    graph.output[1].name = ONNX_OUTPUT
    return onx.SerializeToString()


def write_artifact(frame: pd.DataFrame, target: str, out: Path, name: str, *, c: float = 1.0,
                   drop: tuple[str, ...] = (), metrics: dict | None = None) -> Path:  # fmt: skip
    """Train on ``frame`` and write ``out/<name>/<next version>``."""
    x_frame = frame.drop(columns=[target, *drop])
    features = features_of(x_frame)
    x = encode(x_frame, features)
    y = (frame[target].astype(str) == "yes").to_numpy().astype(int)
    existing = [int(p.name) for p in (out / name).glob("*") if p.name.isdigit()]
    version = str(max(existing, default=0) + 1)
    card = card_from_dict(
        {"name": name, "version": version, "features": features, "classes": ["no", "yes"],
         "target": target, "metrics": metrics or {}}
    )  # fmt: skip
    records = x_frame.head(3).to_dict(orient="records")
    directory = out / name / version
    write_files(
        directory, card, onnx_bytes(x, y, c), sample=records,
        profile=build_profile(x_frame, features),
    )  # fmt: skip
    return directory


def trainer(data: Path, out: Path, config) -> Path:
    """The pipeline Trainer: ``config.extra`` may set ``c`` and ``drop`` to make a weaker model."""
    frame = pd.read_csv(data)
    extra = config.extra or {}
    return write_artifact(
        frame, config.target, Path(out), config.name,
        c=float(extra.get("c", 1.0)), drop=tuple(extra.get("drop", ())),
    )  # fmt: skip


def stalled_trainer(data: Path, out: Path, config) -> Path:
    """Touches ``$STALLED_SIGNAL`` (training has begun), then waits to be killed."""
    import os
    import time

    Path(os.environ["STALLED_SIGNAL"]).touch()
    time.sleep(120)
    raise AssertionError("the test should have killed this process")
