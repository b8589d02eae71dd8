"""Validate new data against the current model's schema, then split off the evaluation slice."""

from __future__ import annotations

from typing import Any

import numpy as np

from amlstack.artifact.formats import ISO, parse_date
from amlstack.errors import DataError

HOLDOUT_FRACTION = 0.2
MIN_HOLDOUT = 200


def check_schema(frame, target: str, meta: dict[str, Any] | None) -> dict[str, Any]:
    """Breaking problems (raise later) and warnings, naming the columns involved."""
    breaking: list[str] = []
    warnings: list[str] = []
    details: dict[str, Any] = {}
    if target not in frame.columns:
        breaking.append(f"target column {target!r} is missing")
    if meta is not None:
        theirs = meta.get("target")
        if theirs and theirs != target:  # the rows, the labels, the gate: nothing compares
            breaking.append(
                f"the target is {target!r}, the champion's {theirs!r}: a challenger of another "
                f"target cannot be gated against it (--target {theirs}, or rename the column)"
            )
        features = meta["features"]
        expected = {f["name"] for f in features}
        missing = sorted(expected - set(frame.columns))
        extra = sorted(set(frame.columns) - expected - {target})
        if missing:
            hint = f" (new columns: {', '.join(extra)}; renamed?)" if extra else ""
            breaking.append(f"missing columns: {', '.join(missing)}{hint}")
        elif extra:
            warnings.append(
                f"columns the champion does not use: {', '.join(extra)} (the challenger may "
                "learn from them, and then scoring it needs them)"
            )
        for f in features:
            if f["name"] in frame.columns:
                _check_feature(f, frame[f["name"]], breaking, warnings, details)
        classes = [str(c) for c in meta.get("classes", [])]
        if target in frame.columns and classes:
            known = {label_key(c) for c in classes}
            labels = set(frame[target].dropna().astype(str))
            unknown = sorted(v for v in labels if label_key(v) not in known)
            if unknown:
                breaking.append(f"target {target!r} has labels {unknown} not in {classes}")
    if target in frame.columns:
        unlabelled = int(frame[target].isna().sum())
        if unlabelled:
            # as `amlstack train` does: no label, nothing to learn or measure (see labelled())
            warnings.append(
                f"target {target!r} is empty in {unlabelled} rows: left out of training and "
                "evaluation"
            )
            details["unlabelled_rows"] = unlabelled
        balance = frame[target].dropna().astype(str).value_counts(normalize=True).round(4)
        balance = balance.to_dict()
        details["label_balance"] = balance
        if not balance:
            breaking.append(f"target {target!r} is empty in every row: no label to learn from")
        elif len(balance) < 2:
            breaking.append(f"target {target!r} has a single label {list(balance)}")
    if frame.empty:
        breaking.append("the data has no rows")
    return {"breaking": breaking, "warnings": warnings, **details}


def _check_feature(
    f: dict[str, Any], column, breaking: list[str], warnings: list[str], details: dict[str, Any]
) -> None:
    """One model column of the new data read as scoring would read it: text scoring would
    refuse is breaking; new categories, values outside the training range, missing values in a
    column that had none are warnings."""
    name = f["name"]
    if f["kind"] == "numeric":
        values, bad = _numbers(column, f)
        expected = "numbers"
    elif f["kind"] == "date":
        bad, expected = _not_dates(column, f.get("date_format") or ISO), "dates"
    else:
        bad = []
        new = sorted(set(column.dropna().astype(str)) - set(f.get("categories", ())))
        if new:
            warnings.append(f"column {name!r}: new categories {', '.join(new[:5])}")
            details.setdefault("new_categories", {})[name] = new
    if bad:
        shown = ", ".join(repr(v) for v in bad)
        breaking.append(f"column {name!r} changed type: expected {expected}, found {shown}")
        return
    low, high = f.get("min"), f.get("max")
    if f["kind"] == "numeric" and low is not None:
        outside = int(((values < low) | (values > high)).sum())
        if outside:
            warnings.append(
                f"column {name!r}: {outside} values outside the training range [{low}, {high}]"
            )
    nulls = int(column.isna().sum())
    if nulls and not f.get("nullable", False):
        warnings.append(f"column {name!r}: {nulls} missing values")


def label_key(label: str) -> str:
    """What makes two spellings of a label one class, as `amlstack train` decides: blanks and
    case aside (``Yes``, ``yes ``), and numbers by value (``1``, ``1.0``)."""
    text = str(label).strip().casefold()
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def align_labels(frame, target: str, classes: list[Any]) -> tuple[Any, str | None]:
    """``frame`` with its labels spelt as the champion's classes where they differ only as
    `label_key` allows, and a warning naming the respellings (None when nothing changed)."""
    if target not in frame.columns or not classes:
        return frame, None
    spelling = {label_key(c): str(c) for c in classes}
    present = frame[target].dropna().astype(str).unique()
    rename = {
        v: spelling[label_key(v)]
        for v in present
        if label_key(v) in spelling and v != spelling[label_key(v)]
    }
    if not rename:
        return frame, None
    shown = ", ".join(f"{v!r} as {k!r}" for v, k in sorted(rename.items()))
    frame = frame.assign(**{target: frame[target].replace(rename)})
    return frame, f"target {target!r}: labels read as the champion's classes: {shown}"


def _not_dates(column, date_format: str) -> list[str]:
    """Up to three present values that scoring would refuse as no date (`formats.parse_date`)."""
    bad = []
    for value in column.dropna().astype(str).unique():
        try:
            parse_date(value, date_format)
        except ValueError:
            bad.append(value)
            if len(bad) == 3:
                break
    return bad


def _numbers(column, spec: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """The column's values as scoring reads them (`table.read_number`: the feature's number
    format and missing words), and up to three present values it would refuse."""
    import msgspec

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import read_number

    feature = Feature.from_spec(msgspec.convert(spec, FeatureSpec))
    read: dict[str, float] = {}
    bad: list[str] = []
    for value in column.dropna().astype(str).unique():
        try:
            read[value] = read_number(value, feature)
        except ValueError:
            if len(bad) < 3:
                bad.append(value)
    if bad:
        return np.empty(0), bad
    present = column.notna().to_numpy()
    values = np.full(len(column), np.nan)
    values[present] = [read[v] for v in column[present].astype(str)]
    return values, []


def row_hashes(frame, columns: list[str] | None = None) -> np.ndarray:
    """A 64-bit hash per row (values only), to know which rows a model trained on.

    With ``columns`` (a model's features and target, `model_columns`) only those are hashed, in
    name order, so a later file with another column, one column fewer or another column order
    still names the same rows; without it, every column in the file's order (as registry entries
    without ``trained_rows_columns`` were hashed)."""
    import pandas as pd

    if columns is not None:
        frame = frame[sorted(columns)]
    return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy(np.uint64)


def model_columns(model, target: str) -> list[str]:
    """The columns that make a row for ``model`` (an artifact `Model`): its features and the
    target, sorted; what `row_hashes` hashes for the registry."""
    return sorted([*model.feature_names, target])


def labelled(frame, target: str):
    """The rows with a target value: the only ones training learns from or evaluation scores."""
    return frame[frame[target].notna()]


def split(
    frame,
    target: str,
    champion_rows: np.ndarray | None,
    *,
    columns: list[str] | None = None,
    fraction: float = HOLDOUT_FRACTION,
    seed: int = 0,
) -> tuple[Any, Any, dict[str, Any]]:
    """(train, holdout, info): the holdout is drawn only from rows the champion never trained on,
    and training gets no copy of a holdout row (a file with repeated rows would otherwise have
    the challenger scored on rows it learnt). ``champion_rows`` are `row_hashes` of ``columns``."""
    hashes = row_hashes(frame, columns)
    eligible = np.ones(len(frame), dtype=bool)
    if champion_rows is not None:
        eligible = ~np.isin(hashes, champion_rows)
    rng = np.random.default_rng(seed)
    want = max(MIN_HOLDOUT, round(fraction * len(frame)))
    # Stratify by label so both classes are represented in proportion.
    chosen: list[np.ndarray] = []
    labels = frame[target].astype(str).to_numpy()
    for label in np.unique(labels):
        pool = np.flatnonzero(eligible & (labels == label))
        share = int(np.rint(want * np.mean(labels == label)))
        chosen.append(rng.choice(pool, size=min(share, len(pool)), replace=False))
    holdout_idx = np.sort(np.concatenate(chosen))
    if len(holdout_idx) < MIN_HOLDOUT:
        raise DataError(
            f"only {int(eligible.sum())} rows the champion has not trained on; at least "
            f"{MIN_HOLDOUT} are needed for a fair evaluation (add new rows to the data)"
        )
    mask = np.zeros(len(frame), dtype=bool)
    mask[holdout_idx] = True
    copies = ~mask & np.isin(hashes, hashes[mask])
    info = {
        "rows": len(frame),
        "eligible_for_holdout": int(eligible.sum()),
        "holdout_rows": int(mask.sum()),
        "train_rows": int((~mask & ~copies).sum()),
        "copies_of_holdout_rows_left_out": int(copies.sum()),
        "champion_rows_known": champion_rows is not None,
        "seed": seed,
    }
    return frame[~mask & ~copies], frame[mask], info
