"""The scoring form, generated from the served model's swagger.json (never written per data set).

Each input field comes from ``definitions.InputRecord``: ``x-training-categories`` (or an
``enum``) is a categorical feature
(a dropdown of its training categories), a ``number`` a numeric one (a number field showing the
training range ``x-training-minimum``/``x-training-maximum`` and the example). A number is
read as training read its column (``x-number-format``: ``1,234.5``, ``12%``, ``17,5``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amlstack.artifact.formats import DECIMAL_COMMA_FORMATS, is_missing, show_number
from amlstack.artifact.formats import parse_number as parse_formatted

_FIELD_PATH = re.compile(r"^(?:Inputs\.)?data\[(?P<row>\d+)\]\.(?P<field>.+)$")


class SchemaError(Exception):
    """The scorer's swagger.json has no usable input record schema."""


@dataclass(frozen=True)
class Field:
    """One input of the model, as the form shows it."""

    name: str
    categorical: bool
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    example: Any = None
    nullable: bool = False
    required: bool = True
    number_format: str | None = None  # how training saw the column written (x-number-format)
    unit: str | None = None  # number_format "unit": the column's unit (x-unit)
    missing_words: tuple[str, ...] = ()  # text training read as missing here (x-missing-words)
    position: int = 0  # the field's place in the form: what makes its HTML ids unique
    date: bool = False  # a date, sent as the text typed (format: date)

    @property
    def input_id(self) -> str:
        """``f<position>-<name's ASCII letters>``: the position keeps distinct names apart
        that spell the same in ASCII (``a.b`` and ``a/b``, ``名前`` and ``年齢``), so a label and
        its help text point at their own input; the name part is for people reading the page."""
        return f"f{self.position}-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)

    @property
    def input_mode(self) -> str:
        """The on-screen keyboard: digits and a decimal sign, or text for a time's colon and a
        date's separators."""
        return "text" if self.number_format == "time" or self.date else "decimal"

    @property
    def range_text(self) -> str:
        if self.minimum is None or self.maximum is None:
            return ""
        return f"{self.show(self.minimum)} to {self.show(self.maximum)}"

    @property
    def default(self) -> str:
        if self.example is None:
            return ""
        return self.show(self.example) if isinstance(self.example, float) else str(self.example)

    def show(self, value: float) -> str:
        """A number as the column was written in training (1,234.5; 12%; 07:30)."""
        return show_number(value, self.number_format)

    @property
    def writing(self) -> str:
        """How to write this field's number when training's format is one a person would not
        guess ("with a decimal comma, such as 17,5"); "" for a plain number."""
        if self.number_format in DECIMAL_COMMA_FORMATS:
            return f"with a decimal comma, such as {self.show(17.5)}"
        if self.number_format == "time":
            return f"written as a time of day, such as {self.show(7.5)}"
        if self.number_format == "unit" and self.unit:
            return f"in {self.unit}, such as 5 {self.unit}"
        return ""


_FRIENDLY = (
    (re.compile(r"^Object missing required field"), "{field} is required"),
    # "| null": the field may be left empty (the model imputes it), but text is still refused.
    (re.compile(r"^Expected `(float|number|int)( \| null)?`"), "{field} must be a number"),
    # the scorer's own words for text in a number field (it names the text, and what to send);
    # 1e400, which the form sends as typed (no float holds it), is a number too large
    (
        re.compile(r"^expected a number or null, got the text .*too large"),
        "{field} is too large a number",
    ),
    (re.compile(r"^expected a number or null, got the text"), "{field} must be a number"),
    (re.compile(r"^Expected `str( \| null)?`"), "{field} must be one of its categories"),
    # the scorer's words (`encoding.NotADate`, `ValueTooLarge`) name no field and speak JSON
    (re.compile(r"^value is not a date"), "{field} must be a date, such as 2024-01-31"),
    (re.compile(r"^value is too large"), "{field} is too large a number"),
)
_A_NUMBER = "must be a number"


def friendly(message: str, field: str | None, writing: str = "") -> str:
    """The scorer's validation message in words for people who do not write JSON; ``writing``
    (`Field.writing`) says how the field's numbers are written, after "must be a number"."""
    if field:
        for pattern, text in _FRIENDLY:
            if pattern.match(message):
                text = text.format(field=field)
                # "17.5" in a decimal-comma field was "must be a number": it is one
                return f"{text} {writing}" if writing and text.endswith(_A_NUMBER) else text
    return message


def writing_of(fields: list[Field], name: str | None) -> str:
    """`Field.writing` of the field called ``name``; "" for none."""
    return next((f.writing for f in fields if f.name == name), "")


def _schemas(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document's named schemas: ``definitions`` (swagger 2) or ``components.schemas``
    (OpenAPI 3); empty when it has neither."""
    components = doc.get("components")
    schemas = doc.get("definitions") or (
        components.get("schemas") if isinstance(components, Mapping) else None
    )
    return schemas if isinstance(schemas, Mapping) else {}


def _record_schema(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    record = _schemas(doc).get("InputRecord")
    if not isinstance(record, Mapping) or not isinstance(record.get("properties"), Mapping):
        raise SchemaError("the scorer's swagger.json has no InputRecord schema")
    return record


def batch_limit(doc: Mapping[str, Any]) -> int | None:
    """The most records the scorer takes in one request (its ServiceInput's ``maxItems``:
    AMLSTACK_MAX_BATCH); None when the document does not say."""
    service_input = _schemas(doc).get("ServiceInput")
    properties = service_input.get("properties") if isinstance(service_input, Mapping) else None
    data = properties.get("data") if isinstance(properties, Mapping) else None
    limit = data.get("maxItems") if isinstance(data, Mapping) else None
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def model_classes(doc: Mapping[str, Any]) -> list[str] | None:
    """The model's classes in its own order (its ServiceOutput's ``predictions`` enum, the
    order of `amlstack predict`'s probability columns); None when the document does not say."""
    output = _schemas(doc).get("ServiceOutput")
    properties = output.get("properties") if isinstance(output, Mapping) else None
    predictions = properties.get("predictions") if isinstance(properties, Mapping) else None
    items = predictions.get("items") if isinstance(predictions, Mapping) else None
    classes = items.get("enum") if isinstance(items, Mapping) else None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        return None
    return classes


def fields_from_swagger(doc: Mapping[str, Any]) -> list[Field]:
    """The form's fields in the model's feature order."""
    record = _record_schema(doc)
    required = set(record.get("required", ()))
    fields = []
    for position, (name, spec) in enumerate(record["properties"].items()):
        nullable = bool(spec.get("x-nullable") or spec.get("nullable"))
        fields.append(
            Field(
                name=name,
                categorical=_categories(spec) is not None,
                options=tuple(str(v) for v in _categories(spec) or ()),
                minimum=spec.get("x-training-minimum"),
                maximum=spec.get("x-training-maximum"),
                example=spec.get("example"),
                nullable=nullable,
                required=name in required,
                number_format=spec.get("x-number-format"),
                unit=spec.get("x-unit"),
                missing_words=tuple(spec.get("x-missing-words") or ()),
                position=position,
                date=spec.get("format") == "date",
            )
        )
    return fields


def parse_number(
    text: str, number_format: str | None = None, unit: str | None = None
) -> float | str:
    """A form or CSV cell as a number, read as training read its column (`formats`, as
    `amlstack predict` and the scorer's text/csv read it); text that is not one is passed on
    for the scorer to name."""
    cleaned = text.strip()
    try:
        value = parse_formatted(cleaned, number_format, unit)
    except ValueError:
        return cleaned
    return value if math.isfinite(value) else cleaned


def record_from_values(fields: list[Field], values: Mapping[str, str]) -> dict[str, Any]:
    """A /score record from text values. A missing value (empty, a marker such as NA, or a
    word training read as missing in the column) is null where the field may be; else it is
    left out (the scorer names it)."""
    record: dict[str, Any] = {}
    for field in fields:
        raw = values.get(field.name)
        text = "" if raw is None else str(raw)
        if is_missing(text) or text.strip().casefold() in field.missing_words:
            if field.nullable:
                record[field.name] = None
            continue
        kept = field.categorical or field.date  # a date's text is the scorer's to read
        record[field.name] = text if kept else parse_number(text, field.number_format, field.unit)
    return record


def field_of(path: str | None) -> tuple[int | None, str | None]:
    """The record index and field name in a scorer error path such as ``data[3].age``."""
    if not path:
        return None, None
    match = _FIELD_PATH.match(path)
    if not match:
        return None, path
    return int(match.group("row")), match.group("field")


def range_notes(fields: list[Field], record: Mapping[str, Any]) -> dict[str, str]:
    """Numeric values outside the training range: scored as the nearest bound (the scorer holds
    numbers to the range), so the answer is the bound's."""
    notes = {}
    for field in fields:
        value = record.get(field.name)
        if field.categorical or not isinstance(value, float):
            continue
        low, high = field.minimum, field.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bound = low if low is not None and value < low else high
            notes[field.name] = (
                f"outside the training range ({field.range_text}): scored as {field.show(bound)}"
            )
    return notes


def _categories(spec: dict) -> list | None:
    """A categorical field's training categories: the scorer states them as
    ``x-training-categories`` (no ``enum``: it accepts and scores unseen values too)."""
    return spec.get("x-training-categories", spec.get("enum"))
