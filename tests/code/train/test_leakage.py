"""Target leakage: a column that alone separates the classes is named, never dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amlstack.training import leakage
from amlstack.training.data import load_dataset

ROWS = 60


def load(tmp_path: Path, target: str, **cols: list) -> object:
    names = [*cols, target] if target not in cols else list(cols)
    lines = [",".join(names)] + [
        ",".join(str(cols[n][i]) for n in names) for i in range(len(cols[target]))
    ]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return load_dataset(path, target)


def leaks(dataset) -> dict[str, str]:
    return {d.column: d.line() for d in dataset.decisions if d.action == "predicts_target"}


def test_a_column_defining_the_target_and_a_copy_of_it_are_named_and_kept(tmp_path):
    rng = np.random.default_rng(0)
    weight = rng.normal(2700, 600, ROWS).round()
    low = np.where(weight < 2500, "yes", "no")
    noise = rng.normal(size=ROWS).round(3)
    dataset = load(tmp_path, "low", bwt=weight, copy=low, age=noise, low=low)
    said = leaks(dataset)
    assert said["bwt"] == (
        "column 'bwt': alone predicts the target (AUC 1.000 on the training rows): if it is "
        "derived from the target or known only after it, drop it (--drop bwt)"
    )
    assert "each of its values holds one class" in said["copy"]
    assert "age" not in said
    # a notice only: the columns stay features, typed as before
    assert [f["name"] for f in dataset.features] == ["bwt", "copy", "age"]


def test_a_multi_class_target_in_ranges_of_one_column_is_named(tmp_path):
    rng = np.random.default_rng(1)
    species = np.repeat(["a", "b", "c"], 20)
    length = np.r_[rng.uniform(0, 1, 20), rng.uniform(2, 3, 20), rng.uniform(4, 5, 20)]
    overlap = np.r_[rng.uniform(0, 3, 20), rng.uniform(2, 5, 20), rng.uniform(1, 4, 20)]
    said = leaks(load(tmp_path, "s", length=length.round(3), other=overlap.round(3), s=species))
    assert list(said) == ["length"]


def test_strong_features_identifiers_and_rare_classes_are_not_named(tmp_path):
    rng = np.random.default_rng(2)
    y = np.where(np.arange(ROWS) % 2 == 0, "yes", "no")
    strong = (y == "yes") + rng.normal(0, 0.5, ROWS)  # good, not perfect
    ids = [f"id{i}" for i in range(ROWS)]  # one class per value: an identifier
    code = np.where(np.arange(ROWS) < 20, y, "other")  # pure where present, most rows mixed
    dataset = load(tmp_path, "y", strong=strong.round(3), ids=ids, code=code, y=y)
    assert leaks(dataset) == {}
    # three rows of a class: one column in ~1,000 separates them by chance
    rare = np.where(np.arange(ROWS) < 3, "yes", "no")
    assert leaks(load(tmp_path, "y", x=np.arange(ROWS) * 1.5 % 7, y=rare)) == {}


def test_a_leak_with_missing_values_is_judged_on_present_rows():
    import pandas as pd

    y = np.arange(ROWS) % 2
    x = np.where(y == 1, 10.0, 0.0) + np.arange(ROWS) / 100
    x[::6] = np.nan
    frame = pd.DataFrame({"x": x})
    [decision] = leakage.leaking_columns(frame, [{"name": "x", "kind": "numeric"}], y)
    assert decision.column == "x"


def test_a_mostly_missing_column_is_not_named_for_its_few_present_rows():
    import pandas as pd

    y = np.arange(ROWS) % 2
    word = np.full(ROWS, None, dtype=object)
    word[:12] = np.where(y[:12] == 1, "a", "b")  # 6 rows of each class: chance, not a leak
    number = np.full(ROWS, np.nan)
    number[:12] = y[:12] * 10.0
    frame = pd.DataFrame({"word": word, "number": number})
    specs = [{"name": "word", "kind": "categorical"}, {"name": "number", "kind": "numeric"}]
    assert leakage.leaking_columns(frame, specs, y) == []
    three = np.arange(ROWS) % 3
    number[:12] = three[:12] * 10.0  # each class in a range of its own, in 4 rows each
    assert leakage.leaking_columns(frame, specs[1:], three) == []
