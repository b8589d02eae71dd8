"""A scored file's added columns: their names, and where they go (after the input's, or into
the input's own columns of those names when the file was scored before). Pure Python: the UI
uses it too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from amlstack.artifact.delimiters import header_names


def output_columns(classes: Sequence[Any]) -> list[str]:
    """The columns a scored table gets (``amlstack predict``, text/csv /score, a multi-class
    model's file in the UI): one probability per class, then the label."""
    return [f"probability_{c}" for c in classes] + ["predicted_label"]


def earlier_columns(header: list[str], added: list[str], features: list[str]) -> dict[str, int]:
    """The input's own columns named as the scores a scored file gets (the file was scored
    before): the new scores go there, where a reader looks them up by name, not into a second
    column of the same name after them (`amlstack predict`, the UI). A feature of that name is
    never overwritten. ``header`` is `header_names`' reading, so an added name is matched as
    that reads it (a class 'Iris "setosa"' gets the column probability_Iris 'setosa')."""
    read = dict(zip(added, header_names(added), strict=True))
    return {
        n: header.index(read[n]) for n in added if read[n] in header and read[n] not in features
    }


def placed(row: list[str], added: list[str], values: list[str], where: dict[str, int]):
    """``row`` with each added value in its earlier column (``where``), or after the row."""
    if not where:
        return [*row, *values]
    row, tail = list(row), []
    for name, value in zip(added, values, strict=True):
        if name in where:
            row[where[name]] = value
        else:
            tail.append(value)
    return row + tail
