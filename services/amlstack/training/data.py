"""Read a tabular CSV, check it can be learned from, infer the model's input schema, split it."""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from amlstack.artifact.manifest import sha256_file
from amlstack.errors import DataError, UserError

if TYPE_CHECKING:
    import pandas as pd

# A column is numeric when every non-empty cell parses as a number; when at least this share
# parses but not all, the column is "mixed" and refused (a typo in a numeric column should not
# silently turn it into a category).
MIXED_NUMERIC_SHARE = 0.9
MAX_CATEGORIES = (
    1000  # more distinct strings than this is an identifier or free text, not a category
)
SAMPLE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Dataset:
    """A checked table: features, target labels, schema and lineage."""

    frame: pd.DataFrame  # feature columns only, in schema order
    target: np.ndarray  # class index per row (into `classes`)
    classes: list[Any]
    target_name: str
    features: list[dict[str, Any]]
    dropped: list[str]
    sha256: str
    path: str


def detect_delimiter(path: Path) -> str:
    """Comma or semicolon (or tab), judged from the header and first rows."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip():
        raise DataError(f"{path}: the file is empty")
    if "\x00" in sample:
        raise DataError(f"{path}: not a CSV file (it holds binary data)")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        header = sample.splitlines()[0]
        counts = {d: header.count(d) for d in ",;\t"}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            raise DataError(
                f"{path}: not a CSV file (no comma, semicolon or tab in its first line)"
            ) from None
        return best


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV as strings (types are inferred by us, not guessed by pandas)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    delimiter = detect_delimiter(path)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{path}: the file holds no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"{path}: column {duplicated[0]!r} appears more than once in the header")
    return frame


def closest(name: str, options: list[str]) -> str:
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def load_dataset(path: str | Path, target: str, drop: list[str] | tuple[str, ...] = ()) -> Dataset:
    """Read, check and type a CSV for training; every problem is one DataError line."""
    path = Path(path)
    raw = read_table(path)
    columns = list(raw.columns)
    if target not in columns:
        raise DataError(f"{path}: no target column {target!r}{closest(target, columns)}")
    for name in drop:
        if name not in columns:
            raise DataError(f"--drop {name}: no such column in {path}{closest(name, columns)}")
        if name == target:
            raise DataError(f"--drop {name}: that is the target column")
    labels = raw[target]
    if labels.isna().any():
        first = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DataError(f"{path}: target {target!r} is empty in data row {first + 1}")
    classes, target_codes = _classes_of(labels.to_numpy(dtype=object))
    if len(classes) < 2:
        raise DataError(
            f"{path}: target {target!r} has only one class ({classes[0]!r}); need at least two"
        )
    feature_frame = raw.drop(columns=[target, *drop])
    if feature_frame.shape[1] == 0:
        raise DataError(f"{path}: no feature columns left besides the target")
    features, typed = infer_features(feature_frame)
    return Dataset(
        frame=typed,
        target=target_codes,
        classes=classes,
        target_name=target,
        features=features,
        dropped=list(drop),
        sha256=sha256_file(path),
        path=str(path),
    )


def _classes_of(labels: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted classes (numbers stay numbers) and each row's class index."""
    values = [v.strip() for v in labels]
    numeric = _as_numbers(values)
    if numeric is not None:
        as_int = [int(v) if float(v).is_integer() else v for v in numeric]
        uniq = sorted(set(as_int))
        index = {v: i for i, v in enumerate(uniq)}
        return uniq, np.array([index[v] for v in as_int], dtype=np.int64)
    uniq = sorted(set(values))
    index = {v: i for i, v in enumerate(uniq)}
    return uniq, np.array([index[v] for v in values], dtype=np.int64)


def _as_numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def infer_features(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """One schema entry per column; returns the schema and the frame with typed columns."""
    import pandas as pd

    features: list[dict[str, Any]] = []
    typed: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        present = column.dropna()
        if present.empty:
            raise DataError(f"column {name!r} is empty in every row; remove it or --drop {name}")
        numbers = pd.to_numeric(present, errors="coerce")
        share = float(numbers.notna().mean())
        nullable = bool(column.isna().any())
        if share == 1.0:
            values = pd.to_numeric(column, errors="coerce").astype(np.float64)
            finite = values.dropna()
            if not np.isfinite(finite.to_numpy()).all():
                raise DataError(f"column {name!r} holds an infinite value")
            is_int = bool((finite == np.round(finite)).all())
            features.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "dtype": "int" if is_int else "float",
                    "min": _plain(finite.min(), is_int),
                    "max": _plain(finite.max(), is_int),
                    "nullable": nullable,
                }
            )
            typed[name] = values
        elif share >= MIXED_NUMERIC_SHARE:
            bad_at = present.index[numbers.isna().to_numpy()][0]
            raise DataError(
                f"column {name!r} mixes numbers and text (data row {int(bad_at) + 1}: "
                f"{column[bad_at]!r}); fix the value or --drop {name}"
            )
        else:
            values = column.str.strip()
            categories = sorted(values.dropna().unique().tolist())
            if len(categories) > MAX_CATEGORIES:
                raise DataError(
                    f"column {name!r} has {len(categories)} distinct text values (an identifier or "
                    f"free text?); --drop {name}"
                )
            features.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "dtype": "string",
                    "categories": categories,
                    "nullable": nullable,
                }
            )
            typed[name] = values
    return features, pd.DataFrame(typed, index=frame.index)


def _plain(value: float, is_int: bool) -> float | int:
    return int(value) if is_int else float(value)


def encode_frame(frame: pd.DataFrame, features: list[dict[str, Any]]) -> np.ndarray:
    """The model's float32 input matrix, built by the serving code itself (one encoding)."""
    import msgspec

    from amlstack.artifact.encoding import Feature, encode_columns
    from amlstack.artifact.schema import FeatureSpec

    specs = [Feature.from_spec(msgspec.convert(f, FeatureSpec)) for f in features]
    columns = {}
    for spec in specs:
        col = frame[spec.name]
        if spec.kind == "categorical":
            columns[spec.name] = col.fillna("").to_numpy(dtype=object)
        else:
            columns[spec.name] = col.to_numpy(dtype=np.float64)
    return encode_columns(specs, columns)


def split_holdout(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded row indices (train, holdout); the holdout is never searched on."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    counts = np.bincount(y)
    if counts.min() < 2:
        raise DataError(
            f"class {int(np.argmin(counts))} has {int(counts.min())} row(s); "
            "need at least 2 of every class to hold out a test split"
        )
    train, test = train_test_split(index, test_size=test_size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def with_examples(frame: pd.DataFrame, features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The feature specs with each column's first non-missing value as its ``example``."""
    out = []
    for spec in features:
        first = frame[spec["name"]].dropna().iloc[0]
        value = first.item() if hasattr(first, "item") else first
        if spec["kind"] == "numeric" and spec.get("dtype") == "int":
            value = int(value)
        out.append(dict(spec) | {"example": value})
    return out


def client_records(frame: pd.DataFrame, features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as a client sends them: ints as ints, floats as floats, missing as null."""
    kinds = {f["name"]: f for f in features}
    records = []
    for row in frame.to_dict(orient="records"):
        record = {}
        for column, value in row.items():
            spec = kinds[column]
            if value is None or (isinstance(value, float) and value != value):
                record[column] = None
            elif spec["kind"] == "numeric":
                record[column] = int(value) if spec.get("dtype") == "int" else float(value)
            else:
                record[column] = str(value)
        records.append(record)
    return records
