"""Distributed batch scoring on Apache Spark: the local predictor's encoding, one session per task.

The artifact folder is shipped to the executors once (``SparkContext.addFile``, fetched once per
executor); each partition's task verifies it, opens one onnxruntime ``InferenceSession`` and
scores the partition's Arrow batches with ``mapInPandas``. CSV input is read as text and parsed
exactly as ``amlstack predict`` parses it, so both engines give the same probabilities; Parquet
input keeps its column types. Output is a Spark output folder (part files) of CSV or Parquet:
the input columns, then ``probability_<class>`` per class and ``predicted_label``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from amlstack.artifact import charset
from amlstack.artifact.delimiters import header_names
from amlstack.artifact.formats import writes_decimal_commas
from amlstack.artifact.names import MANIFEST
from amlstack.artifact.reader import Model
from amlstack.artifact.table import TableError, encode_text_columns
from amlstack.errors import DataError, UserError
from amlstack.predict import output_columns
from amlstack.training.data import detect_delimiter, header_cells

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

FORMATS = ("csv", "parquet")
# A DataError raised in an executor reaches the driver inside Spark's error text; this marker
# lets the driver show the user only its one line.
_MARK = "amlstack-data-error: "
_MARKED = re.compile(re.escape(_MARK) + r"(.+)")
_PYTHON_ERROR = re.compile(r"^[A-Za-z_.]+(Error|Exception): ")


def file_format(path: str, option: str) -> str:
    """``csv`` or ``parquet`` from the path's suffix (a Spark output folder may end in either)."""
    suffix = Path(path.rstrip("/")).suffix.lower().lstrip(".")
    if suffix in ("csv", "tsv", "txt"):
        return "csv"
    if suffix in ("parquet", "pq"):
        return "parquet"
    raise UserError(f"{option} {path}: name a .csv or .parquet file or folder")


def session(master: str | None, app_name: str = "amlstack-predict") -> SparkSession:
    """A Spark session; without --master, Spark's own configuration (spark-submit, env) decides."""
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        raise UserError(
            "--engine spark needs the spark extra: pip install 'amlstack[spark]'"
        ) from None
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    if (master or "local").startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Local workers run this interpreter (the one amlstack is installed in), not PATH's
        # python3; SparkContext reads the variable when it starts the workers.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    return (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _active_session() -> SparkSession | None:
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        return None
    return SparkSession.getActiveSession()


def predict_spark(
    model_dir: Path,
    source: str,
    target: str,
    *,
    master: str | None = None,
    spark: SparkSession | None = None,
) -> int:
    """Score ``source`` into the folder ``target`` on Spark; returns the rows written."""
    model = Model(model_dir, verify=True)  # fail on the driver, in one line, before any task
    if Path(source).resolve() == Path(target).resolve():
        raise UserError("--output must differ from --input (the input would be destroyed)")
    in_format, out_format = file_format(source, "--input"), file_format(target, "--output")
    local = Path(source)
    encoding = charset.UTF8
    if in_format == "csv" and local.exists() and not local.is_file():
        delimiter = ","  # a folder of part files: Spark's own writer uses commas
    elif in_format == "csv" and local.is_file():
        encoding = charset.file_encoding(local)  # as training and `amlstack predict` read it
        if encoding not in _SPARK_CHARSETS:
            convert = (
                "re-save its Windows-1252 lines as UTF-8"
                if encoding == charset.MIXED
                else f"convert it to UTF-8 first (iconv -f {encoding} -t utf-8)"
            )
            raise UserError(
                f"--input {source}: a {charset.NAMES[encoding]} file, which Spark's CSV reader "
                f"does not read; score it with --engine local, or {convert}"
            )
        delimiter = detect_delimiter(local, encoding, one_column=len(model.features) == 1)
        names = header_names(header_cells(local, encoding, delimiter))
    else:
        delimiter, names = ",", None
    spark = spark or _active_session()
    own = spark is None  # a session the caller (or spark-submit) made is theirs to stop
    spark = spark or session(master)
    try:
        frame = _read(spark, source, in_format, delimiter, encoding)
        if names is not None and len(names) == len(frame.columns):
            frame = frame.toDF(*names)
        missing = [name for name in model.feature_names if name not in frame.columns]
        if missing:
            raise DataError(f"{source}: missing column(s) the model needs: {', '.join(missing)}")
        scored = score_frame(spark, frame, model_dir, model, label=source)
        if out_format == "csv" and writes_decimal_commas(f.number_format for f in model.features):
            scored = _with_decimal_commas(scored, output_columns(model)[:-1])
        return _write(scored, target, out_format, delimiter)
    finally:
        if own:
            spark.stop()


def score_frame(
    spark: SparkSession, frame: DataFrame, model_dir: Path, model: Model, *, label: str
) -> DataFrame:
    """``frame`` plus the probability and label columns, scored partition by partition."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    directory = _staged(model_dir.resolve())
    spark.sparkContext.addFile(str(directory), recursive=True)
    names = output_columns(model)
    # Spark resolves a dotted name ("emp.var.rate") as a struct field: positional names inside.
    original = list(frame.columns)
    inner = [f"_c{i}" for i in range(len(original) + len(names))]
    frame = frame.toDF(*inner[: len(original)])
    schema = StructType(
        [
            *frame.schema.fields,
            *(StructField(name, DoubleType(), False) for name in inner[len(original) : -1]),
            StructField(inner[-1], StringType(), False),
        ]
    )
    scorer = _PartitionScorer(directory.name, original, names, label)
    return frame.mapInPandas(scorer, schema).toDF(*original, *names)


def _staged(directory: Path) -> Path:
    """The artifact under a name of its own: Spark ships a folder by its last name, and two
    artifacts both at version ``1`` in one session clash ("exists and does not match
    contents"). A copy named by its manifest's digest: the same artifact gets the same name."""
    import hashlib
    import shutil
    import tempfile

    digest = hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()[:16]
    staged = Path(tempfile.gettempdir()) / "amlstack-spark" / f"artifact-{digest}"
    if not staged.is_dir():
        partial = staged.with_name(f".{staged.name}.{os.getpid()}")
        shutil.copytree(directory, partial, dirs_exist_ok=True)
        try:
            partial.rename(staged)
        except OSError:  # another process staged the same artifact first
            shutil.rmtree(partial, ignore_errors=True)
    return staged


class _PartitionScorer:
    """Runs in the executors: one verified model and session per partition's task."""

    def __init__(self, folder: str, columns: list[str], names: list[str], label: str) -> None:
        self.folder, self.columns, self.names, self.label = folder, columns, names, label

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pyspark import SparkFiles, TaskContext

        # Each task scores its partition on one core: Spark's tasks are the parallelism.
        model = Model(SparkFiles.get(self.folder), threads=1, verify=True)
        context = TaskContext.get()
        where = f"{self.label} (partition {context.partitionId() if context else 0})"
        offset = 0
        for batch in batches:
            inner = list(batch.columns)
            batch.columns = self.columns
            try:
                matrix = encode_frame(model, batch, offset, where)
            except DataError as exc:
                raise ValueError(_MARK + str(exc)) from None
            proba = model.predict_proba(matrix).astype(np.float64)
            out = batch.copy()
            for i, name in enumerate(self.names[:-1]):
                out[name] = proba[:, i]
            out[self.names[-1]] = [str(label) for label in model.labels(proba)]
            out.columns = inner + [f"_c{len(inner) + i}" for i in range(len(self.names))]
            offset += len(batch)
            yield out


def encode_frame(model: Model, batch: pd.DataFrame, offset: int, where: str) -> np.ndarray:
    """Text columns (CSV) are parsed as the local predictor parses them; typed ones are cast."""
    from pandas.api.types import is_numeric_dtype

    columns: dict[str, Any] = {}
    for feature in model.features:
        column = batch[feature.name]
        if feature.kind == "numeric" and is_numeric_dtype(column):
            # NaN is a missing value: the model imputes it, as it does in the local predictor.
            columns[feature.name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            columns[feature.name] = column.fillna("").astype(str).tolist()
    try:
        return encode_text_columns(model.features, columns, first_row=offset + 1).matrix
    except TableError as exc:
        raise DataError(f"{where}: {exc}") from None


# Spark's names for the encodings of `charset` its CSV reader accepts (Spark 4 refuses
# windows-1252 unless a legacy setting is on, which the session may not be ours to set)
_SPARK_CHARSETS = {charset.UTF8: "utf-8", charset.UTF16: "utf-16", charset.LATIN_1: "iso-8859-1"}


def _read(spark: SparkSession, source: str, fmt: str, delimiter: str, encoding: str) -> DataFrame:
    from pyspark.errors import AnalysisException

    try:
        if fmt == "parquet":
            return spark.read.parquet(source)
        # All columns as text: parsed by the same code as the local predictor, no inference pass.
        return (
            spark.read.option("header", "true")
            .option("sep", delimiter)
            .option("inferSchema", "false")
            .option("encoding", _SPARK_CHARSETS[encoding])
            # Whole files, as the local reader reads them: line by line, Spark splits a quoted
            # cell holding a line break into two rows (and reads UTF-16 newlines wrongly)
            .option("multiLine", "true")
            .option("escape", '"')  # a quote inside a quoted cell is doubled (RFC 4180)
            .csv(source)
        )
    except AnalysisException as exc:
        raise UserError(f"--input {source}: {str(exc).splitlines()[0]}") from None


def _with_decimal_commas(frame: DataFrame, columns: list[str]) -> DataFrame:
    """The probability columns as `amlstack predict` writes them for a model whose file wrote
    decimal commas (six decimals, a comma): what a spreadsheet in that locale reads back."""
    from pyspark.sql import functions as F

    for name in columns:
        text = F.format_string("%.6f", F.col(f"`{name}`"))
        frame = frame.withColumn(name, F.regexp_replace(text, r"\.", ","))
    return frame


def _write(frame: DataFrame, target: str, fmt: str, delimiter: str) -> int:
    from pyspark.errors import PySparkException

    frame = frame.cache()  # counted and written from one scoring pass
    try:
        rows = frame.count()
        writer = frame.write.mode("overwrite")
        if fmt == "parquet":
            writer.parquet(target)
        else:
            writer.option("header", "true").option("sep", delimiter).option("escape", '"').csv(
                target
            )
    except PySparkException as exc:
        raise _user_error(exc) from None
    except Exception as exc:  # py4j's errors carry the executor's failure as text
        if _MARKED.search(str(exc)):
            raise _user_error(exc) from None
        raise
    finally:
        frame.unpersist()
    return rows


def _user_error(exc: Exception) -> UserError:
    found = _MARKED.search(str(exc))
    if found:
        return DataError(found.group(1).strip())
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    python_errors = [line for line in lines if _PYTHON_ERROR.match(line)]
    return UserError(f"Spark failed: {(python_errors or lines or ['no message'])[-1]}")
