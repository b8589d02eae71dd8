"""A small, deterministic artifact for the scorer's tests and benchmark (no FLAML needed).

A logistic regression on the first rows of the shipped CSV, categorical columns ordinal-encoded
exactly as artifact.py encodes them, converted with skl2onnx (no zipmap: a float32 [N, 2]
``probabilities`` tensor). The same inputs always give the same model.json, so the golden
swagger files can be generated from it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from amlstack.artifact.names import ONNX_INPUT, ONNX_OUTPUT
from amlstack.artifact.schema import card_from_dict
from amlstack.artifact.writer import write_artifact

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data" / "bankmarketing_train.csv"
TARGET = "y"
ROWS = 2000


def _read_rows(path: Path, limit: int) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(limit), reader, strict=False)]
    return list(reader.fieldnames or []), rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _features(columns: list[str], rows: list[dict[str, str]]) -> list[dict]:
    features = []
    for name in columns:
        if name == TARGET:
            continue
        values = [row[name] for row in rows]
        if all(_is_number(v) for v in values):
            nums = [float(v) for v in values]
            is_int = all(n.is_integer() for n in nums)
            features.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "dtype": "int" if is_int else "float",
                    "min": min(nums),
                    "max": max(nums),
                    "nullable": False,
                    "example": int(nums[0]) if is_int else nums[0],
                }
            )
        else:
            features.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "dtype": "string",
                    "categories": sorted(set(values)),
                    "nullable": False,
                    "example": values[0],
                }
            )
    return features


def _record(row: dict[str, str], features: list[dict]) -> dict:
    out = {}
    for f in features:
        raw = row[f["name"]]
        if f["kind"] == "categorical":
            out[f["name"]] = raw
        else:
            out[f["name"]] = int(float(raw)) if f["dtype"] == "int" else float(raw)
    return out


def _matrix(rows: list[dict[str, str]], features: list[dict]) -> np.ndarray:
    out = np.empty((len(rows), len(features)), dtype=np.float32)
    for j, f in enumerate(features):
        if f["kind"] == "categorical":
            codes = {c: i for i, c in enumerate(f["categories"])}
            out[:, j] = [codes[row[f["name"]]] for row in rows]
        else:
            out[:, j] = [float(row[f["name"]]) for row in rows]
    return out


def _onnx_model(x: np.ndarray, y: np.ndarray) -> bytes:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    pipe.fit(x, y)
    onx = to_onnx(
        pipe,
        x[:1],
        options={id(pipe.steps[-1][1]): {"zipmap": False}},
        initial_types=None,
        target_opset=17,
        final_types=None,
    )
    # Rename the graph's input/output to the artifact contract's names.
    graph = onx.graph
    old_in = graph.input[0].name
    prob_out = graph.output[1].name
    for node in graph.node:
        node.input[:] = [ONNX_INPUT if n == old_in else n for n in node.input]
        node.output[:] = [ONNX_OUTPUT if n == prob_out else n for n in node.output]
    graph.input[0].name = ONNX_INPUT
    graph.output[1].name = ONNX_OUTPUT
    return onx.SerializeToString()


def build(out: Path, *, name: str = "bankmarketing", version: str = "1") -> Path:
    """Write a complete artifact to ``out/<name>/<version>`` and return that directory."""
    columns, rows = _read_rows(DATA, ROWS)
    features = _features(columns, rows)
    x = _matrix(rows, features)
    y = np.array([1 if row[TARGET] == "yes" else 0 for row in rows])
    card = card_from_dict(
        {
            "name": name,
            "version": version,
            "features": features,
            "classes": ["no", "yes"],
            "target": TARGET,
        }
    )
    sample = [_record(row, features) for row in rows[:3]]
    directory = out / name / version
    write_artifact(directory, card, _onnx_model(x, y), sample=sample)
    return directory


if __name__ == "__main__":
    import sys

    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/amlstack-scorer-artifact")))
