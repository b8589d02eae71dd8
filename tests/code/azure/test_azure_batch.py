"""`amlstack azure batch-plan`: SDK v2 loaders accept it, and its code folder scores on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from azure.ai.ml import load_batch_deployment, load_batch_endpoint
from fake_automl import DATA
from marshmallow.exceptions import ValidationError
from typer.testing import CliRunner

from amlstack.azure import batch
from amlstack.cli import build_app
from amlstack.predict import predict_csv


@pytest.fixture(scope="module")
def plan(azure_artifact: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch-plan")
    result = CliRunner().invoke(
        build_app(),
        ["azure", "batch-plan", "--artifact", str(azure_artifact), "--out", str(out),
         "--compute", "gpu-free", "--mini-batch-size", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_batch_endpoint_and_deployment_load_with_the_sdk(plan: Path, azure_artifact: Path):
    endpoint = load_batch_endpoint(plan / "batch-endpoint.yml")
    assert endpoint.name == "amlstack-bankmarketing-batch"
    assert endpoint.auth_mode == "aad_token"
    deployment = load_batch_deployment(plan / "batch-deployment.yml")
    assert deployment.endpoint_name == endpoint.name
    assert deployment.compute.endswith("gpu-free")
    assert deployment.mini_batch_size == 3
    assert deployment.code_configuration.scoring_script == "batch_score.py"
    # Paths stay relative to the YAML's folder until the deployment is submitted.
    assert (plan / deployment.code_configuration.code).resolve() == (plan / "code").resolve()
    model_folder = plan / deployment.model.path
    assert (model_folder / "MANIFEST.json").is_file()
    assert model_folder.name == deployment.environment_variables["AMLSTACK_MODEL_DIR"]
    assert (model_folder / "model.onnx").read_bytes() == (
        azure_artifact / "model.onnx"
    ).read_bytes()


def test_the_loader_rejects_a_broken_deployment(plan: Path, tmp_path: Path):
    """Negative control: the same loader fails on a wrong type."""
    doc = yaml.safe_load((plan / "batch-deployment.yml").read_text())
    doc["mini_batch_size"] = "three"
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(ValidationError):
        load_batch_deployment(bad)


def test_code_folder_holds_every_module_the_script_imports(plan: Path):
    code = plan / "code"
    assert (code / "batch_score.py").is_file()
    assert (code / "amlstack" / "predict.py").is_file()
    assert (code / "amlstack" / "__init__.py").is_file()
    assert not (code / "amlstack" / "cli.py").exists()  # only what the script needs


def test_the_script_scores_as_amlstack_predict_from_the_code_folder_alone(
    plan: Path, azure_artifact: Path, tmp_path: Path
):
    """Azure's contract (init, run) in a fresh interpreter whose amlstack is the code folder's."""
    rows = tmp_path / "in" / "part1.csv"
    rows.parent.mkdir()
    rows.write_text("".join(DATA.open().readlines()[:51]))
    outputs = tmp_path / "out"
    probe = (
        "import batch_score, amlstack, sys; "
        "assert amlstack.__file__.startswith(sys.argv[1]), amlstack.__file__; "
        "batch_score.init(); print(batch_score.run([sys.argv[2]]))"
    )
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(plan / "code"),
        AZUREML_MODEL_DIR=str(plan),
        AMLSTACK_MODEL_DIR=yaml.safe_load((plan / "batch-deployment.yml").read_text())[
            "environment_variables"
        ]["AMLSTACK_MODEL_DIR"],
        AZUREML_BI_OUTPUT_PATH=str(outputs),
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(plan / "code"), str(rows)],
        cwd=plan / "code", env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "part1.csv: 50 rows" in done.stdout
    local = tmp_path / "local.csv"
    predict_csv(azure_artifact, rows, local)
    assert (outputs / "part1.csv").read_text() == local.read_text()


def test_first_party_files_follow_imports_transitively():
    files = batch.first_party_files(batch.SCRIPT_MODULE)
    assert "amlstack/azure/batch_score.py" in files
    assert "amlstack/azure/__init__.py" in files
    assert "amlstack/errors.py" in files  # predict -> errors
    assert "amlstack/artifact/reader.py" in files  # the artifact reader


def test_a_bad_file_fails_alone_and_the_rest_of_its_mini_batch_is_scored(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """Azure counts a file left out of run()'s result as failed; raising would fail (and retry)
    the whole mini-batch, and error_threshold 0 would then end the job: the good files after a
    bad one were never scored."""
    from amlstack.azure import batch_score

    lines = DATA.open().readlines()
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.csv").write_text("".join(lines[:11]))
    (inputs / "empty.csv").write_text("")
    (inputs / "other.csv").write_text("a,b\n1,2\n")
    (inputs / "b.csv").write_text("".join(lines[:1] + lines[11:21]))
    deployment = yaml.safe_load((plan / "batch-deployment.yml").read_text())
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(plan))
    monkeypatch.setenv("AZUREML_BI_OUTPUT_PATH", str(tmp_path / "out"))
    for key, value in deployment["environment_variables"].items():
        monkeypatch.setenv(key, value)
    batch_score.init()
    names = ["a.csv", "empty.csv", "other.csv", "b.csv"]
    result = batch_score.run([str(inputs / n) for n in names])
    assert result == ["a.csv: 10 rows", "b.csv: 10 rows"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv", "b.csv"]
    assert "empty.csv: not scored" in caplog.text and "other.csv: not scored" in caplog.text
    # and the job goes on past the failed files (they are named in its log), up to a point
    assert load_batch_deployment(plan / "batch-deployment.yml").error_threshold == 10


def test_a_bug_met_on_one_file_fails_that_file_alone(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from amlstack.azure import batch_score

    real = batch_score.predict_csv

    def buggy(model, source, target):
        if source.name == "bug.csv":
            raise RecursionError("a bug")
        return real(model, source, target)

    monkeypatch.setattr(batch_score, "predict_csv", buggy)
    _batch_environment(plan, tmp_path / "out", monkeypatch)
    rows = tmp_path / "rows.csv"
    rows.write_text("".join(DATA.open().readlines()[:6]))
    batch_score.init()
    assert batch_score.run([str(tmp_path / "bug.csv"), str(rows)]) == ["rows.csv: 5 rows"]
    assert "bug.csv: not scored: an amlstack bug" in caplog.text
    assert "RecursionError: a bug" in caplog.text


def test_an_io_error_fails_the_mini_batch_for_azure_to_retry(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from amlstack.azure import batch_score

    def unreachable(model, source, target):
        raise OSError(107, "Transport endpoint is not connected")  # a blobfuse mount dropped

    monkeypatch.setattr(batch_score, "predict_csv", unreachable)
    _batch_environment(plan, tmp_path / "out", monkeypatch)
    batch_score.init()
    with pytest.raises(OSError, match="not connected"):
        batch_score.run([str(tmp_path / "part.csv")])


def test_a_second_input_of_the_same_name_does_not_overwrite_the_first(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from amlstack.azure import batch_score

    _batch_environment(plan, tmp_path / "out", monkeypatch)
    lines = DATA.open().readlines()
    for folder, rows in (("a", 5), ("b", 7)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "part.csv").write_text("".join(lines[: rows + 1]))
    batch_score.init()
    first, second = tmp_path / "a" / "part.csv", tmp_path / "b" / "part.csv"
    assert batch_score.run([str(first), str(second)]) == ["part.csv: 5 rows"]
    assert len((tmp_path / "out" / "part.csv").read_text().splitlines()) == 6
    assert f"{second}: not scored: part.csv holds the scores of {first}" in caplog.text
    assert batch_score.run([str(first)]) == ["part.csv: 5 rows"]  # a retry of the same file
    # a first one of the name that failed wrote nothing: the next one is scored
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.csv").write_text("")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.csv").write_text("".join(lines[:4]))
    assert batch_score.run([str(tmp_path / "c" / "x.csv"), str(tmp_path / "d" / "x.csv")]) == [
        "x.csv: 3 rows"
    ]


def _batch_environment(plan: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(plan))
    monkeypatch.setenv("AZUREML_BI_OUTPUT_PATH", str(out))
    deployment = yaml.safe_load((plan / "batch-deployment.yml").read_text())
    for key, value in deployment["environment_variables"].items():
        monkeypatch.setenv(key, value)


def test_a_broken_artifact_fails_the_job_at_init_not_every_file_silently(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The model was read per file inside predict_csv: a wrong AMLSTACK_MODEL_DIR (or a changed
    artifact file) failed every mini-batch, which error_threshold -1 then ignored, and the job
    ended as Completed with no output. init() loads it once, so the job fails at its start."""
    from amlstack.artifact.manifest import ArtifactError
    from amlstack.azure import batch_score

    _batch_environment(plan, tmp_path / "out", monkeypatch)
    monkeypatch.setenv(batch_score.MODEL_FOLDER_ENV, "no-such-folder")
    with pytest.raises(ArtifactError, match="no-such-folder"):
        batch_score.init()
    # a good one is read once, by init(): the files are scored with it, not re-read per file
    monkeypatch.undo()
    folder = yaml.safe_load((plan / "batch-deployment.yml").read_text())["model"]["path"]
    root = tmp_path / "model"
    shutil.copytree(plan / folder, root / folder)
    _batch_environment(plan, tmp_path / "out", monkeypatch)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    batch_score.init()
    shutil.rmtree(root)
    rows = tmp_path / "part.csv"
    rows.write_text("".join(DATA.open().readlines()[:6]))
    assert batch_score.run([str(rows), str(rows)]) == ["part.csv: 5 rows"] * 2


def test_a_job_whose_files_all_fail_ends_as_failed(azure_artifact: Path, tmp_path: Path):
    """error_threshold -1 (Azure: ignore every failure) let a job whose every file failed end as
    Completed; the threshold is finite, `--error-threshold` sets it and refuses a negative one."""
    app = build_app()
    base = ["azure", "batch-plan", "--artifact", str(azure_artifact), "--out"]
    done = CliRunner().invoke(app, [*base, str(tmp_path / "p0"), "--error-threshold", "0"])
    assert done.exit_code == 0, done.output
    assert load_batch_deployment(tmp_path / "p0" / "batch-deployment.yml").error_threshold == 0
    refused = CliRunner().invoke(app, [*base, str(tmp_path / "p1"), "--error-threshold", "-1"])
    assert refused.exit_code == 2 and "--error-threshold" in refused.output
    assert not (tmp_path / "p1").exists()


def test_batch_commands_run_as_a_script_check_everything_before_creating_anything(
    plan: Path, tmp_path: Path
):
    """`sh batch-commands.sh` ran into its `--input <folder of CSVs>` placeholder (a shell
    redirection) only after the endpoint and deployment were created, and sent no
    --subscription: az used its default one, not AZURE_SUBSCRIPTION_ID's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "az-calls"
    fake_az = bin_dir / "az"
    fake_az.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {calls}\necho >> {calls}\n')
    fake_az.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "AZURE_SUBSCRIPTION_ID": "sub-1",
           "AZURE_RESOURCE_GROUP": "rg 1", "AZUREML_WORKSPACE_NAME": "ws1"}  # fmt: skip
    script = str(plan / "batch-commands.sh")

    def sh(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", script, *args], cwd=plan, env=env | extra,
                              capture_output=True, text=True, check=False)  # fmt: skip

    missing = sh()
    assert missing.returncode != 0 and "folder of CSV files" in missing.stderr
    unset = sh("in dir", AZURE_SUBSCRIPTION_ID="")
    assert unset.returncode != 0 and "AZURE_SUBSCRIPTION_ID" in unset.stderr
    assert not calls.exists()  # nothing was created
    assert sh("in dir").returncode == 0
    lines = [line.split("|")[:-1] for line in calls.read_text().splitlines()]
    assert [line[:3] for line in lines] == [
        ["ml", "batch-endpoint", "create"], ["ml", "batch-deployment", "create"],
        ["ml", "batch-endpoint", "invoke"],
    ]  # fmt: skip
    for line in lines:
        assert line[line.index("--subscription") + 1] == "sub-1"
        assert line[line.index("--resource-group") + 1] == "rg 1"
    assert lines[2][lines[2].index("--input") + 1] == "in dir"


# Run by the test below in a fresh interpreter: only the standard library, the code folder and
# what environment.yml installs (with what those need) can be imported.
_ONLY_THE_ENVIRONMENT = """
import os, sys
allowed = set(sys.argv[3].split(",")) | set(sys.stdlib_module_names) | {"batch_score"}
class OnlyTheEnvironment:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in allowed:
            raise ModuleNotFoundError(f"No module named {name!r} in the batch environment")
sys.meta_path.insert(0, OnlyTheEnvironment())
import batch_score
batch_score.init()
print(batch_score.run([sys.argv[2]]))
"""


def _importable_with(pip_specs: list[str]) -> set[str]:
    """Top-level modules of the installed distributions ``pip_specs`` name, with their
    dependencies (those not installed here, such as azureml-core, are skipped)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return name.lower().replace("_", "-").replace(".", "-")

    seen: set[str] = set()
    pending = [Requirement(spec).name for spec in pip_specs]
    while pending:
        name = norm(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                pending.append(req.name)
    return {
        module
        for module, dists in metadata.packages_distributions().items()
        if any(norm(d) in seen for d in dists)
    }


def test_the_script_runs_with_only_what_the_environment_installs(
    plan: Path, tmp_path: Path
) -> None:
    """environment.yml had numpy and onnxruntime but not msgspec, which the artifact reader
    imports: on Azure init() failed with ModuleNotFoundError for every mini-batch."""
    conda = yaml.safe_load((plan / "environment.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    allowed = _importable_with(pip) | {"amlstack", "amlstack_scorer"}
    rows = tmp_path / "part.csv"
    rows.write_text("".join(DATA.open().readlines()[:11]))
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(plan / "code"),
        AZUREML_MODEL_DIR=str(plan),
        AMLSTACK_MODEL_DIR=yaml.safe_load((plan / "batch-deployment.yml").read_text())[
            "environment_variables"
        ]["AMLSTACK_MODEL_DIR"],
        AZUREML_BI_OUTPUT_PATH=str(tmp_path / "out"),
    )
    done = subprocess.run(
        [sys.executable, "-c", _ONLY_THE_ENVIRONMENT, str(plan / "code"), str(rows),
         ",".join(sorted(allowed))],
        cwd=plan / "code", env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]
    assert "part.csv: 10 rows" in done.stdout


def test_a_cell_over_128_kib_is_scored_and_one_over_the_limit_is_a_data_error(
    plan: Path, azure_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Python's csv refuses a cell over 128 KiB (`field_size_limit`) with csv.Error, not a user
    error: `amlstack predict` called it a bug, and the batch script's run() raised, so the good
    files of its mini-batch went unscored. Training (pandas) reads such a cell: so does scoring,
    up to a bound that an unclosed quote reaches as one line naming the file and line."""
    import csv

    from amlstack import predict
    from amlstack.azure import batch_score
    from amlstack.errors import DataError

    lines = DATA.open().readlines()
    header = lines[0].rstrip("\n").split(",")
    row = lines[1].rstrip("\n").split(",")
    row[header.index("job")] = "x" * 200_000  # an unseen category: scored as unknown
    big = tmp_path / "in" / "big.csv"
    big.parent.mkdir()
    big.write_text(lines[0] + lines[1] + ",".join(row) + "\n" + lines[2])
    good = tmp_path / "in" / "good.csv"
    good.write_text("".join(lines[:4]))
    assert predict_csv(azure_artifact, big, tmp_path / "big-scored.csv") == 3
    _batch_environment(plan, tmp_path / "out", monkeypatch)
    batch_score.init()
    assert batch_score.run([str(big), str(good)]) == ["big.csv: 3 rows", "good.csv: 3 rows"]

    limit = csv.field_size_limit()
    monkeypatch.setattr(predict, "MAX_CELL_CHARS", 1000)
    try:
        with pytest.raises(DataError, match=r"big\.csv: line 3: a cell longer than 1,000 "):
            predict_csv(azure_artifact, big, tmp_path / "refused.csv")
    finally:
        csv.field_size_limit(limit)
    assert not (tmp_path / "refused.csv").exists()
