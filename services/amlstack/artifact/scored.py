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


def earlier_columns(cells: list[str], added: list[str], features: list[str]) -> dict[str, int]:
    """The input's own columns named as the scores a scored file gets (the file was scored
    before): the new scores go there, where a reader looks them up by name, not into a second
    column of the same name after them (`amlstack predict`, the UI). A feature of that name is
    never overwritten. ``cells``: the header as written; an added name is matched as written,
    else as `header_names` reads both (a class 'Iris "setosa"' gets the column
    probability_Iris 'setosa'), each column by one name at most (classes a"b and a'b both
    read a'b)."""
    read = header_names(cells)
    where: dict[str, int] = {}
    for same in (lambda i, n: cells[i].strip() == n, lambda i, n: read[i] == header_names([n])[0]):
        for name in added:
            taken = set(where.values())
            spot = next(
                (i for i in range(len(cells))
                 if i not in taken and read[i] not in features and same(i, name)),
                None,
            )  # fmt: skip
            if name not in where and spot is not None:
                where[name] = spot
    return where


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
