"""Read a tabular CSV, check it can be learned from, infer the model's input schema, split it."""

from __future__ import annotations

import csv
import difflib
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from amlstack.artifact import charset
from amlstack.artifact.delimiters import (
    DELIMITER_NAMES,
    excel_hint,
    header_delimiter,
    header_names,
    renamed,
)
from amlstack.artifact.formats import DECIMAL_COMMA_FORMATS
from amlstack.artifact.manifest import sha256_file
from amlstack.errors import DataError, UserError
from amlstack.training import columns, leakage

if TYPE_CHECKING:
    import pandas as pd


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
    decisions: list[columns.Decision] = field(default_factory=list)
    # each row's place among the file's data rows (rows with an empty target are left out)
    file_rows: np.ndarray | None = None

    def file_positions(self, index: np.ndarray) -> list[int]:
        """Data-row numbers (0-based, in the file) of the dataset's rows ``index``."""
        rows = index if self.file_rows is None else self.file_rows[index]
        return [int(i) for i in rows]

    def rows_at(self, positions: list[int] | np.ndarray) -> np.ndarray:
        """The dataset's rows at data-row ``positions`` of the file (as ``file_positions``
        gives them, e.g. holdout.json's); a position without a label is refused."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.file_rows is None:
            return positions
        index = np.searchsorted(self.file_rows, positions)
        found = index < len(self.file_rows)
        found[found] = self.file_rows[index[found]] == positions[found]
        if not found.all():
            missing = int(positions[~found][0])
            raise DataError(f"{self.path}: data row {missing + 1} has no label (or is not there)")
        return index


def detect_delimiter(path: Path, encoding: str | None = None, one_column: bool = False) -> str:
    """One of the table reader's DELIMITERS, judged from the header and first rows (read in
    ``encoding``, by default the file's own: `charset.file_encoding`). ``one_column``: a file
    of a single column is expected (a one-feature model's input), so a header without any
    delimiter is that column's name, not a sign of something other than CSV."""
    encoding = encoding or charset.file_encoding(path)
    with path.open("r", encoding=encoding, errors="replace") as handle:
        sample = handle.read(charset.SAMPLE_CHARS)
    if not sample.strip():
        raise DataError(f"{path}: the file is empty")
    if charset.holds_binary(sample):
        raise DataError(f"{path}: {charset.BINARY_DATA}")
    first = sample.lstrip("\ufeff").split("\n", 1)[0].strip()
    hint = excel_hint(first)
    if hint:
        raise DataError(f"{path}: {hint}")
    # the rule every reader of a table follows (predict, the scorer's text/csv, the UI's
    # upload): csv.Sniffer, here alone, took a doubled quote before a comma in a quoted cell
    # (`"say ""hi"", 1"`) for a comma file, and broke ties its own way
    best = header_delimiter(sample)
    if best is None and not one_column:
        raise DataError(
            f"{path}: no {DELIMITER_NAMES} between the names in its header: a file of one "
            "column, or not a CSV file"
        )
    return best or ","


def read_table(path: str | Path, target: str | None = None) -> pd.DataFrame:
    """Read a CSV as strings (types are inferred by us, not guessed by pandas), missing-value
    markers as NaN (`columns.blank_markers`: ``target`` names the label column); the frame's
    ``attrs["encoding"]`` is the file's text encoding (`charset`)."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: a folder; name the CSV file")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    encoding = charset.file_encoding(path)
    delimiter = detect_delimiter(path, encoding)
    try:
        frame = _read_csv(path, encoding, delimiter)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{path}: the file holds no data rows")
    cells = _header_cells(path, encoding, delimiter, len(frame.columns))
    frame.columns = header_names(cells)
    frame.attrs["renamed"] = renamed(cells)
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        spelt = list(dict.fromkeys(repr(c) for c in cells if c.strip() == duplicated[0]))
        blanks = (
            f" (written {' and '.join(spelt)}: names differ by blanks only)"
            if len(spelt) > 1
            else ""
        )
        raise DataError(
            f"{path}: column {duplicated[0]!r} appears more than once in the header{blanks}"
        )
    renames = frame.attrs["renamed"]
    frame = columns.blank_markers(frame, target)
    frame.attrs.update(
        encoding=encoding, renamed=renames, how_read=charset.how_read(path, encoding)
    )
    return frame


def _read_csv(path: Path, encoding: str, delimiter: str) -> pd.DataFrame:
    """Every cell as text. ``index_col=False``: a delimiter ending every data row but not the
    header is an empty field, not pandas' sign that the first column is the row index (which
    shifted every column one place); a row with more non-empty fields than the header is
    refused (pandas would drop them with a warning)."""
    import pandas as pd

    def read() -> pd.DataFrame:
        return pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                           skipinitialspace=True, encoding=encoding, index_col=False)  # fmt: skip

    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return read()
        except pd.errors.ParserWarning:
            pass
    too_wide = _too_wide(path, encoding, delimiter)
    if too_wide:
        raise DataError(f"{path}: {too_wide}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.ParserWarning)  # only empty fields are left
        return read()


def _too_wide(path: Path, encoding: str, delimiter: str) -> str | None:
    """Which data row holds more non-empty fields than the header, if one does."""
    with path.open(newline="", encoding=encoding) as handle:
        rows = (row for row in csv.reader(handle, delimiter=delimiter) if row)
        width = len(next(rows, []))
        for number, row in enumerate(rows, start=1):
            if any(cell.strip() for cell in row[width:]):
                return f"data row {number} has {len(row)} fields, the header has {width}"
    return None


def header_cells(path: Path, encoding: str, delimiter: str) -> list[str]:
    """The header line's cells as written (the first non-blank line): every reader of a file
    names columns from them (`header_names`), rather than as pandas or Spark do (pandas
    renames a repeated name, hiding it; Spark calls an empty one `_c1` and keeps blanks)."""
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter, skipinitialspace=True)
        return next((row for row in reader if row), [])


def _header_cells(path: Path, encoding: str, delimiter: str, width: int) -> list[str]:
    cells = header_cells(path, encoding, delimiter)
    if len(cells) != width:  # not the line pandas read as the header: cannot happen
        raise DataError(f"{path}: the header line holds {len(cells)} names for {width} columns")
    return cells


def closest(name: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` naming the option ``name`` most likely meant, else "": one
    spelt the same but for case first, then the nearest spelling, case aside (difflib alone
    finds nothing alike between RANK and rank)."""
    folded, key = [option.casefold() for option in options], name.casefold()
    match = [key] if key in folded else difflib.get_close_matches(key, folded, n=1, cutoff=0.5)
    return f" (did you mean {options[folded.index(match[0])]!r}?)" if match else ""


def file_columns(path: Path) -> list[str]:
    """The columns of the CSV at ``path`` as `read_table` names them, from its header line
    alone (options are checked before a whole file is read)."""
    encoding = charset.file_encoding(path)
    return header_names(header_cells(path, encoding, detect_delimiter(path, encoding)))


def check_column_options(
    path: Path,
    names: list[str],
    target: str,
    drop: list[str] | tuple[str, ...] = (),
    keep: list[str] | tuple[str, ...] = (),
) -> None:
    """A DataError naming the first of ``target``, ``drop`` and ``keep`` that the file at
    ``path`` (its columns ``names``) cannot honour: a column it lacks (with the closest one it
    has), the target dropped or kept, a column both dropped and kept."""
    if target not in names:
        raise DataError(f"{path}: no target column {target!r}{closest(target, names)}")
    for option, given in (("--drop", drop), ("--keep", keep)):
        for name in given:
            if name not in names:
                raise DataError(f"{option} {name}: no such column in {path}{closest(name, names)}")
            if name == target:
                raise DataError(f"{option} {name}: that is the target column")
    both = sorted(set(drop) & set(keep))
    if both:
        raise DataError(f"--drop {both[0]} and --keep {both[0]}: choose one")


def load_dataset(
    path: str | Path,
    target: str,
    drop: list[str] | tuple[str, ...] = (),
    keep: list[str] | tuple[str, ...] = (),
) -> Dataset:
    """Read, check and type a CSV for training; every problem is one DataError line.

    ``keep``: columns kept as features even where the identifier rules would drop them."""
    path = Path(path)
    raw = read_table(path, target)
    check_column_options(path, list(raw.columns), target, drop, keep)
    read_as = _file_decisions(raw)
    raw, file_rows, unlabelled = _labelled_rows(raw, target, path)
    labels, merged = _one_spelling(raw[target].to_numpy(dtype=object), target)
    merged += _labels_written_several_ways(labels, target)
    classes, target_codes = _classes_of(labels)
    merged += _labels_read_as_numbers(labels, classes, target_codes, target)
    if len(classes) < 2:
        raise DataError(
            f"{path}: target {target!r} has only one class ({classes[0]!r}); need at least two"
        )
    feature_frame = raw.drop(columns=[target, *drop])
    if feature_frame.shape[1] == 0:
        raise DataError(f"{path}: no feature columns left besides the target")
    features, typed, decisions = infer_features(feature_frame, keep)
    auto_dropped = [d.column for d in decisions if d.action == "dropped"]
    repeated = _repeated_rows(typed, target_codes)
    leaks = leakage.leaking_columns(typed, features, target_codes)
    decisions = [*read_as, *unlabelled, *merged, *decisions, *leaks, *repeated]
    return Dataset(
        frame=typed,
        target=target_codes,
        classes=classes,
        target_name=target,
        features=features,
        dropped=[*drop, *auto_dropped],
        sha256=sha256_file(path),
        path=str(path),
        decisions=decisions,
        file_rows=file_rows,
    )


def _file_decisions(raw: pd.DataFrame) -> list[columns.Decision]:
    """How the file was read, where that is not plain: a text encoding other than UTF-8, and
    columns without a name (every reader of a table reads them alike)."""
    decisions = []
    if raw.attrs.get("how_read"):
        detail = raw.attrs["how_read"]
        decisions.append(columns.Decision(column="", action="text_encoding", detail=detail))
    for i, name in enumerate(raw.columns):
        if name == f"Unnamed: {i}":
            detail = "no name in the header line: so named here, in predict and in the scorer"
            decisions.append(columns.Decision(column=name, action="unnamed", detail=detail))
    for name, written in raw.attrs.get("renamed", {}).items():
        detail = (
            f"written {written!r} in the header: a double quote, backslash or control character "
            "no JSON record can name; so named here, in predict and in the scorer"
        )
        decisions.append(columns.Decision(column=name, action="renamed", detail=detail))
    return decisions


def _labelled_rows(raw: pd.DataFrame, target: str, path: Path):
    """(rows with a label, their data-row numbers, the decision recording the others).

    A row without a label cannot be learned from or measured on; it is left out, with a notice
    naming where (as AutoGluon does), rather than refusing a whole export.
    """
    empty = raw[target].isna().to_numpy()
    if not empty.any():
        return raw, None, []
    if empty.all():
        raise DataError(f"{path}: target {target!r} is empty in every row")
    where = np.flatnonzero(empty) + 1
    shown = ", ".join(str(i) for i in where[:5]) + (", ..." if len(where) > 5 else "")
    decision = columns.Decision(
        column=target,
        action="unlabelled_rows",
        detail=f"missing (empty or a missing-value marker) in {len(where):,} of {len(raw):,} rows "
        f"(data row {shown}): those rows are left out of training and of every metric",
    )
    kept = np.flatnonzero(~empty)
    return raw.iloc[kept].reset_index(drop=True), kept, [decision]


def _repeated_rows(features: pd.DataFrame, target: np.ndarray) -> list[columns.Decision]:
    """The decision naming how many rows repeat an earlier one exactly, in every feature the
    model sees and in the target (a dropped column does not tell rows apart); none when no row
    does.

    Copies on both sides of the holdout are scored on rows the model was fitted on, so the
    held-out figure may read high. The split does not keep copies together: the file cannot
    tell one record written twice from customers who are alike (a few yes/no answers repeat
    often), and for those a random holdout is what new traffic looks like.
    """
    import pandas as pd

    rows = pd.concat([features, pd.Series(target, index=features.index)], axis=1, ignore_index=True)
    repeated = int(rows.duplicated().sum())
    if not repeated:
        return []
    detail = (
        f"{repeated:,} of {len(rows):,} rows ({columns.percent(repeated, len(rows))}) repeat an "
        "earlier row exactly (features and target): copies can fall on both sides of the "
        "holdout, so the held-out figure may read high (remove them if they are one record "
        "written twice)"
    )
    return [columns.Decision(column="", action="repeated_rows", detail=detail)]


def _one_spelling(labels: np.ndarray, target: str) -> tuple[np.ndarray, list[columns.Decision]]:
    """Labels that differ only in case (``Yes``, ``yes``) as one class, spelt as most rows spell
    it, with the decision; a hand-typed target column often mixes them."""
    values = np.array([str(v).strip() for v in labels], dtype=object)
    spellings: dict[str, dict[str, int]] = {}
    for value in values.tolist():
        counts = spellings.setdefault(value.casefold(), {})
        counts[value] = counts.get(value, 0) + 1
    rename = {}
    for counts in spellings.values():
        if len(counts) > 1:
            kept = max(sorted(counts), key=counts.__getitem__)
            rename.update({v: kept for v in counts if v != kept})
    if not rename:
        return values, []
    shown = ", ".join(f"{v!r} as {k!r}" for v, k in sorted(rename.items()))
    decision = columns.Decision(
        column=target,
        action="labels_merged",
        detail=f"labels that differ only in case are one class: {shown}",
    )
    return np.array([rename.get(v, v) for v in values.tolist()], dtype=object), [decision]


def _labels_written_several_ways(labels: np.ndarray, target: str) -> list[columns.Decision]:
    """A notice when labels left apart are one yes/no word written several ways (``Y`` and
    ``Yes``): each is a class of its own, so a yes/no target silently became a four-class
    one (no threshold, a macro AUC). Not merged: which spelling means what is the user's."""
    distinct = sorted(set(labels.tolist()))
    groups = columns.spelling_groups(distinct)
    if not groups:
        return []
    detail = (
        f"labels {columns.shown_groups(groups)} look like one value written several ways, "
        f"yet each is a class of its own ({len(distinct)} classes); write each "
        "one way if they are one"
    )
    return [columns.Decision(column=target, action="labels_several_spellings", detail=detail)]


def _classes_of(labels: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted classes (numbers stay numbers) and each row's class index; of two classes, the
    second is the positive one."""
    values = [v.strip() for v in labels]
    numeric = _as_numbers(values)
    if numeric is not None:
        as_int = [int(v) if float(v).is_integer() else v for v in numeric]
        uniq = sorted(set(as_int))
        index = {v: i for i, v in enumerate(uniq)}
        return uniq, np.array([index[v] for v in as_int], dtype=np.int64)
    # case aside (then as written): 'no' before 'YES', so yes, not no, is the positive class
    uniq = sorted(set(values), key=lambda v: (v.casefold(), v))
    index = {v: i for i, v in enumerate(uniq)}
    return uniq, np.array([index[v] for v in values], dtype=np.int64)


def _labels_read_as_numbers(
    labels: np.ndarray, classes: list[Any], codes: np.ndarray, target: str
) -> list[columns.Decision]:
    """A notice when numeric labels are written otherwise than predictions answer them
    (``1.0`` answered ``1``): a scored file's label then differs from the input's text."""
    if not all(isinstance(c, int | float) for c in classes):
        return []
    written: dict[str, Any] = {}
    for text, code in zip(labels.tolist(), codes.tolist(), strict=True):
        text = str(text).strip()
        if text != str(classes[code]) and text not in written:
            written[text] = classes[code]
    if not written:
        return []
    shown = ", ".join(f"{t!r} is answered {c!r}" for t, c in sorted(written.items())[:6])
    detail = f"labels are numbers, answered in one form whatever the file wrote: {shown}"
    return [columns.Decision(column=target, action="labels_as_numbers", detail=detail)]


def _as_numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def infer_features(
    frame: pd.DataFrame, keep: list[str] | tuple[str, ...] = ()
) -> tuple[list[dict[str, Any]], pd.DataFrame, list]:
    """Schema entries, the typed frame and the column decisions (see ``columns``)."""
    import pandas as pd

    typed_columns = [
        columns.type_column(name, frame[name], len(frame), keep=name in keep)
        for name in frame.columns
    ]
    if any(spec and spec.get("format") in DECIMAL_COMMA_FORMATS for spec, _, _ in typed_columns):
        # a file writing 17,5 writes 1.108 for 1108 (and € 1.108): its plain-looking numbers
        # and amounts are read again
        typed_columns = [
            columns.type_column(
                name, frame[name], len(frame), dots_group_thousands=True, keep=name in keep
            )
            if spec and spec["kind"] == "numeric" and spec.get("format") in (None, "currency")
            else (spec, values, notes)
            for name, (spec, values, notes) in zip(frame.columns, typed_columns, strict=True)
        ]
    columns.share_missing_words([spec for spec, _, _ in typed_columns if spec is not None])
    features: list[dict[str, Any]] = []
    typed: dict[str, Any] = {}
    decisions = []
    for spec, values, notes in typed_columns:
        decisions.extend(notes)
        if spec is not None:
            features.append(spec)
            typed[spec["name"]] = values
    if not features:
        # the notices are printed after loading, so "see above" pointed at nothing: say why here
        why = "; ".join(columns.notice_lines(decisions))
        raise DataError(f"no usable feature columns: every column was dropped ({why})")
    return features, pd.DataFrame(typed, index=frame.index), decisions


def encode_frame(frame: pd.DataFrame, features: list[dict[str, Any]]) -> np.ndarray:
    """The model's float32 input matrix, built by the serving code itself (one encoding)."""
    import msgspec

    from amlstack.artifact.encoding import Feature, encode_columns
    from amlstack.artifact.schema import FeatureSpec

    specs = [Feature.from_spec(msgspec.convert(f, FeatureSpec)) for f in features]
    encoded = {}
    for spec in specs:
        col = frame[spec.name]
        if spec.kind in ("categorical", "date"):
            values = col.to_numpy(dtype=object, copy=True)  # not a view into the frame
            values[col.isna().to_numpy()] = None
            encoded[spec.name] = values
        else:
            encoded[spec.name] = col.to_numpy(dtype=np.float64)
    return encode_columns(specs, encoded)


MIN_CLASS_ROWS = 3  # one held out, and two left to split into search and validation rows


def check_class_sizes(y: np.ndarray, classes: list[Any]) -> None:
    """A DataError naming every class with fewer than `MIN_CLASS_ROWS` labelled rows, or, when
    the target is no set of classes at all, what it looks like: a quantity (regression) or an
    identifier (a name per row: "drop those rows" would have dropped every row)."""
    counts = np.bincount(y, minlength=len(classes))
    rare = [f"{classes[i]!r} ({int(n)})" for i, n in enumerate(counts) if n < MIN_CLASS_ROWS]
    if rare and _continuous(classes, len(rare)):
        raise DataError(
            f"the target holds {len(classes):,} distinct numbers, {len(rare):,} of them in fewer "
            f"than {MIN_CLASS_ROWS} rows: a quantity to predict (regression), where amlstack "
            "trains classifiers; make classes of it (e.g. above or below a threshold)"
        )
    if rare and _identifier(len(classes), len(y)):
        raise DataError(
            f"the target holds {len(classes):,} distinct values in {len(y):,} labelled rows: "
            "an identifier or a name, not classes to learn; pass the column to predict as "
            "--target"
        )
    if rare:
        shown = ", ".join(rare[:10]) + (f" and {len(rare) - 10} more" if len(rare) > 10 else "")
        raise DataError(
            f"{len(rare)} class(es) with fewer than {MIN_CLASS_ROWS} labelled rows: {shown}; "
            "every class needs one held-out row and two to train and validate on (drop those "
            f"rows or merge each class with another{_if_a_quantity(classes)})"
        )


def _continuous(classes: list[Any], rare: int) -> bool:
    """Numbers for labels, most of them too rare to be classes: a regression target."""
    if len(classes) <= 20 or rare < len(classes) / 2:
        return False
    return _numbers(classes)


def _if_a_quantity(classes: list[Any]) -> str:
    """The rare-class refusal's other way out when the labels are many numbers: a quantity
    rounded to whole numbers (a strength in MPa, 79 values) has rare values without most of
    them being rare, and merging them makes a classifier of a regression."""
    if len(classes) <= 20 or not _numbers(classes):
        return ""
    return (
        f"; or, if the {len(classes)} numbers are a quantity rather than class codes, make "
        "classes of it, e.g. above or below a threshold: amlstack trains classifiers"
    )


def _numbers(classes: list[Any]) -> bool:
    try:
        [float(c) for c in classes]
    except (TypeError, ValueError):
        return False
    return True


def _identifier(n_classes: int, n_rows: int) -> bool:
    """Nearly a class per row, as the rule that drops an identifier column reads it."""
    return n_rows >= columns.MIN_ROWS_FOR_IDENTIFIER and n_classes >= (
        columns.NEAR_UNIQUE_SHARE * n_rows
    )


def split_holdout(
    y: np.ndarray, test_size: float, seed: int, classes: list[Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded row indices (train, holdout); the holdout is never searched on.

    ``classes`` (the labels of y's codes) only name a class too small to split.
    """
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    counts = np.bincount(y)
    if counts.min() < 2:
        rare = int(np.argmin(counts))
        label = repr(classes[rare]) if classes is not None else str(rare)
        raise DataError(
            f"class {label} has {int(counts.min())} row(s) here; need at least 2 of every class "
            "to hold out a test split (drop that class's rows or merge it with another)"
        )
    size = _split_size(len(y), test_size, len(counts))
    train, test = train_test_split(index, test_size=size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def _split_size(n_rows: int, test_size: float, n_classes: int) -> float | int:
    """``test_size``, or as many rows as there are classes when its share of the rows is fewer
    (57 rows of 8 cancer types: a stratified split needs a row of each class on both sides).
    ``check_class_sizes`` leaves at least two rows of each class, so both sides can have one."""
    if math.ceil(test_size * n_rows) >= n_classes:
        return test_size
    if n_rows - n_classes < n_classes:
        raise DataError(
            f"{n_rows} rows of {n_classes} classes: too few to hold out a row of each class "
            "and train on another"
        )
    return n_classes


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
