"""The training profile format that the scorer's live profile and the drift check share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from amlstack.artifact.profile import bin_counts, build_profile, check_profile


def _features(frame):
    return [
        {"name": c, "kind": "numeric" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical"}
        for c in frame.columns
        if c != "y"
    ]


def test_profile_counts_every_row_once(bank):
    frame = bank.head(5000)
    profile = build_profile(frame, _features(frame))
    check_profile(profile)
    assert profile["rows"] == 5000
    for name, spec in profile["features"].items():
        total = sum(spec["counts"]) + spec["missing"] + spec.get("unseen", 0)
        assert total == 5000, name
        if spec["kind"] == "numeric":
            assert len(spec["counts"]) == len(spec["edges"]) + 1
            assert spec["edges"] == sorted(spec["edges"])


def test_deciles_split_a_continuous_feature_evenly(bank):
    spec = build_profile(bank, _features(bank))["features"]["duration"]
    shares = np.asarray(spec["counts"]) / sum(spec["counts"])
    assert len(spec["edges"]) == 9
    assert shares.min() > 0.08 and shares.max() < 0.12


def test_a_dominant_top_value_keeps_a_bin_of_its_own(bank):
    # pdays is 999 ("never contacted") for ~96% of rows: every decile is 999.
    spec = build_profile(bank, _features(bank))["features"]["pdays"]
    assert spec["edges"] and spec["edges"][-1] < 999
    assert spec["counts"][-1] == int((bank["pdays"] == 999).sum())


def test_categorical_counts_follow_the_given_category_order():
    frame = pd.DataFrame({"c": ["b", "a", "b", "zzz", None]})
    spec = build_profile(frame, [{"name": "c", "kind": "categorical", "categories": ["b", "a"]}])
    c = spec["features"]["c"]
    assert c["categories"] == ["b", "a"]
    assert c["counts"] == [2, 1]
    assert c["unseen"] == 1 and c["missing"] == 1


def test_bins_are_left_open_right_closed():
    counts, missing = bin_counts(np.array([0.5, 1.0, 1.5, 2.0, 9.0, np.nan]), [1.0, 2.0])
    assert counts.tolist() == [2, 2, 1]
    assert missing == 1
