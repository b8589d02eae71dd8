"""Which rows a champion added by `registry add --data` counts as trained on."""

from __future__ import annotations

import pytest

from amlstack.pipeline.bootstrap import _holdout_unseen


@pytest.mark.parametrize(
    ("rows", "unseen"),
    [
        ({"total": 400, "holdout": 80, "shipped_model": 400}, False),  # refitted on every row
        ({"total": 400, "holdout": 80, "shipped_model": 320}, True),  # the measured model shipped
        ({}, True),  # no row counts: holdout.json is all there is to go by
    ],
)
def test_held_out_rows_count_as_unseen_only_if_the_shipped_model_never_learned_them(rows, unseen):
    assert _holdout_unseen({"training": {"rows": rows}}) is unseen
