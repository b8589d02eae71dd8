"""The model card routes: keyed, the artifact's facts, only the manifest's report plots."""

from __future__ import annotations

import json
import shutil

from amlstack.artifact.manifest import manifest_for
from amlstack.artifact.reader import Model
from amlstack_scorer.app import create_app


def test_the_card_needs_the_key_and_names_the_model(client, auth, model):
    assert client.get("/model/card").status_code == 401
    card = client.get("/model/card", headers=auth).get_json()
    assert (card["name"], card["version"]) == (model.name, model.version)
    assert card["classes"] == [str(c) for c in model.classes]
    assert card["threshold"] == model.threshold


def test_report_plots_are_served_only_when_the_manifest_lists_them(
    tmp_path, golden_artifact, settings, auth
):
    folder = tmp_path / "artifact"
    shutil.copytree(golden_artifact, folder)
    (folder / "report").mkdir(exist_ok=True)
    (folder / "report" / "roc.png").write_bytes(b"\x89PNG fake")
    (folder / "MANIFEST.json").write_text(json.dumps(manifest_for(folder)))
    client = create_app(settings, Model(folder)).test_client()
    card = client.get("/model/card", headers=auth).get_json()
    assert card["report"] == ["roc.png"]
    plot = client.get("/model/report/roc.png", headers=auth)
    assert plot.status_code == 200 and plot.mimetype == "image/png"
    assert plot.data == b"\x89PNG fake"
    missing = client.get("/model/report/MANIFEST.json", headers=auth)
    assert missing.status_code == 404
    assert (
        missing.get_json()["error"]["message"] == "the model's report has no file 'MANIFEST.json'"
    )
