"""An artifact whose files agree with its manifest but not with each other (a model.json edited
and re-hashed, another model's graph or profile copied in): refused at load in one line naming
the file and what is wrong, never scored with, never served, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scorer_artifact_factory import build
from scorer_support import make_settings

from amlstack.artifact.manifest import ArtifactError, write_manifest
from amlstack.artifact.reader import Model
from amlstack_scorer.app import create_app


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("tamper"))


def _copy(pristine: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "bankmarketing" / "1"
    shutil.copytree(pristine, folder)
    return folder


def _edit_card(folder: Path, edit) -> Path:
    card = json.loads((folder / "model.json").read_text())
    edit(card)
    (folder / "model.json").write_text(json.dumps(card))
    write_manifest(folder)  # the manifest agrees: only the content is wrong
    return folder


def _feature(card: dict, kind: str) -> dict:
    return next(f for f in card["features"] if f["kind"] == kind)


CARD_EDITS = {
    "no classes": (lambda c: c.update(classes=[]), "classes lists 0 class"),
    "one class": (lambda c: c.update(classes=["no"]), "classes lists 1 class"),
    "a class twice": (lambda c: c.update(classes=["no", "no"]), "a class twice"),
    "a list as a class": (lambda c: c.update(classes=[["no"], "yes"]), "no class label"),
    "threshold NaN": (lambda c: c.update(threshold=float("nan")), "threshold nan"),
    "threshold 2": (lambda c: c.update(threshold=2.0), "not a probability"),
    "threshold below 0": (lambda c: c.update(threshold=-1.0), "not a probability"),
    "no features": (lambda c: c.update(features=[]), "features is empty"),
    "a feature twice": (
        lambda c: c["features"].append(dict(c["features"][0])),
        "is listed twice",
    ),
    "categories emptied": (
        lambda c: _feature(c, "categorical").update(categories=[]),
        "lists no categories",
    ),
    "a category twice": (
        lambda c: _feature(c, "categorical").update(categories=["a", "a"]),
        "a category twice",
    ),
    "frequencies short": (
        lambda c: _feature(c, "categorical").update(encoding="frequency", frequencies=[0.5]),
        "one finite number per category",
    ),
    "categorical made numeric": (
        lambda c: _feature(c, "categorical").update(kind="numeric"),
        "is numeric but lists categories",
    ),
    "numeric example text": (
        lambda c: _feature(c, "numeric").update(example="old"),
        "is not a number",
    ),
    "range not finite": (
        lambda c: _feature(c, "numeric").update(min=float("-inf")),
        "is not finite",
    ),
    "min above max": (lambda c: _feature(c, "numeric").update(min=9e9), "is above max"),
    "format unit without a unit": (
        lambda c: _feature(c, "numeric").update(format="unit"),
        "format 'unit' and a unit go together",
    ),
}


def test_the_pristine_artifact_loads(pristine):
    assert Model(pristine).classes == ["no", "yes"]


def _other_graph(tmp_path: Path) -> bytes:
    """A graph of another model: three numeric inputs, three classes."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    y = np.arange(60) % 3
    onx = to_onnx(LogisticRegression().fit(x, y), x[:1], options={"zipmap": False})
    return onx.SerializeToString()


def test_another_models_graph_is_refused_naming_the_graph(pristine, tmp_path):
    folder = _copy(pristine, tmp_path)
    (folder / "model.onnx").write_bytes(_other_graph(tmp_path))
    write_manifest(folder)
    with pytest.raises(ArtifactError, match=r"model\.onnx: the graph") as info:
        Model(folder)
    assert str(info.value).startswith(str(folder / "model.onnx"))


GRAPH_EDITS = {
    "a feature dropped": (lambda c: c["features"].pop(), "input columns but model.json"),
    "a feature added": (
        lambda c: c["features"].append(dict(_feature(c, "numeric"), name="added")),
        "input columns but model.json",
    ),
    "a third class": (
        lambda c: c.update(classes=["no", "yes", "maybe"]),
        "answers 2 probabilities per row but model.json lists 3 classes",
    ),
    "input renamed": (lambda c: c["model"].update(input="Y"), "has no input 'Y'"),
    "output renamed": (lambda c: c["model"].update(output="proba"), "has no output 'proba'"),
}


# model.json edits that no writer leaves, and edits that leave a card not fitting its graph
# (those failed inside onnxruntime on the first request or CSV chunk: a 500, exit 70); each
# names the file it is refused for
EDITS = {
    **{f"model.json: {case}": ("model.json", *edit) for case, edit in CARD_EDITS.items()},
    **{f"model.onnx: {case}": ("model.onnx", *edit) for case, edit in GRAPH_EDITS.items()},
}


@pytest.mark.parametrize("case", list(EDITS))
def test_a_card_that_no_writer_leaves_or_that_misfits_its_graph_is_refused(
    pristine, tmp_path, case
):
    named, edit, words = EDITS[case]
    folder = _edit_card(_copy(pristine, tmp_path), edit)
    with pytest.raises(ArtifactError) as info:
        Model(folder)
    message = str(info.value)
    assert message.startswith(f"{folder / named}: ") and words in message
    assert "\n" not in message


def _write(folder: Path, name: str, doc) -> Path:
    (folder / name).write_text(json.dumps(doc))
    write_manifest(folder)
    return folder


def _profile(folder: Path) -> dict:
    import pandas as pd

    from amlstack.artifact.profile import build_profile

    model = Model(folder)
    frame = pd.DataFrame(model.sample_input())
    return build_profile(frame, [msgspec_builtins(f) for f in model.card.features])


def msgspec_builtins(spec) -> dict:
    import msgspec

    return msgspec.to_builtins(spec)


def _reversed(stats: dict) -> dict:
    return dict(stats, categories=stats["categories"][::-1])


def test_a_matching_profile_is_served(pristine, tmp_path):
    folder = _write(_copy(pristine, tmp_path), "profile.json", _profile(pristine))
    app = create_app(make_settings(), Model(folder))
    assert app.test_client().get("/ready").status_code == 200


PROFILE_EDITS = {
    "not an object": (lambda p: [], "not a JSON object"),
    "features a list": (lambda p: dict(p, features=[]), "'features' is not an object"),
    "another model's feature": (
        lambda p: dict(p, features={"colour": p["features"]["age"]}),
        "profiles 'colour', which the model does not read",
    ),
    "edges not numbers": (
        lambda p: dict(p, features={"age": dict(p["features"]["age"], edges="x")}),
        "not a numeric profile with bin edges",
    ),
    "categories reordered": (
        lambda p: dict(p, features={"job": _reversed(p["features"]["job"])}),
        "its categories are not the model's",
    ),
    "counts short": (
        lambda p: dict(p, features={"age": dict(p["features"]["age"], counts=[1])}),
        "counts for",
    ),
}


@pytest.mark.parametrize("case", list(PROFILE_EDITS))
def test_a_profile_that_does_not_fit_the_model_stops_the_scorer(pristine, tmp_path, case):
    """It stopped a worker's boot with a bare Python error (or counted drift into the wrong
    bins): the scorer now exits at start with one line naming profile.json."""
    edit, words = PROFILE_EDITS[case]
    folder = _write(_copy(pristine, tmp_path), "profile.json", edit(_profile(pristine)))
    model = Model(folder)  # batch scoring needs no profile
    with pytest.raises(ArtifactError) as info:
        create_app(make_settings(), model)
    assert str(info.value).startswith(f"{folder / 'profile.json'}: ") and words in str(info.value)


@pytest.mark.parametrize("name", ["sample_input.json", "background.json"])
@pytest.mark.parametrize("doc", [[1, 2], {"data": "x"}, {"data": [1, "a"]}])
def test_record_files_that_hold_no_records_are_refused_naming_them(pristine, tmp_path, name, doc):
    folder = _write(_copy(pristine, tmp_path), name, doc)
    model = Model(folder)
    read = model.sample_input if name == "sample_input.json" else model.background
    with pytest.raises(ArtifactError, match=r"not \{\"data\": \[record, \.\.\.\]\}") as info:
        read()
    assert str(info.value).startswith(str(folder / name))
