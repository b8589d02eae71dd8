"""A stand-in for Azure AutoML's ONNX output: one input per column, one-hot inside, ZipMap out."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"


def automl_like_onnx(out: Path, rows: int = 1500, zipmap: bool = True) -> Path:
    """Train a small pipeline on the shipped CSV and export it the way AutoML does."""
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(DATA, nrows=rows)
    x, y = frame.drop(columns=["y"]), frame["y"]
    cats = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    nums = [c for c in x.columns if c not in cats]
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
                        ("num", StandardScaler(), nums),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    )
    pipe.fit(x, y)
    types = []
    for c in x.columns:
        if c in cats:
            types.append((c, StringTensorType([None, 1])))
        elif pd.api.types.is_integer_dtype(x[c]):
            types.append((c, Int64TensorType([None, 1])))
        else:
            types.append((c, FloatTensorType([None, 1])))
    options = {id(pipe.steps[-1][1]): {"zipmap": zipmap}}
    model = convert_sklearn(
        pipe, initial_types=types, options=options, target_opset={"": 17, "ai.onnx.ml": 3}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model.SerializeToString())
    return out
