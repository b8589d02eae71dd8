"""The generated YAML goes through azure-ai-ml's own loaders; routes and sizing match the scorer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from azure.ai.ml import load_job, load_online_deployment, load_online_endpoint
from fake_automl import DATA
from marshmallow.exceptions import ValidationError

from amlstack.azure import specs
from amlstack.azure.automl import automl_job_spec
from amlstack.errors import DataError, UserError
from amlstack_scorer import contract

SETTINGS = specs.DeploymentSettings(
    endpoint="amlstack-bank",
    deployment="green",
    image=specs.image_ref("myacr", "amlstack-scorer", "bank", "7"),
    workers=3,
    threads=5,
    appinsights_connection_string="InstrumentationKey=abc;IngestionEndpoint=https://x",
)


def test_image_ref_uses_registry_repo_model_name_and_version() -> None:
    ref = specs.image_ref("myacr", "amlstack-scorer", "bank", "7")
    assert ref == "myacr.azurecr.io/amlstack-scorer:bank-7"
    assert specs.image_ref("r.azurecr.io", "s", "m", "1") == "r.azurecr.io/s:m-1"


@pytest.mark.parametrize("repository", ["My Repo", "scorer;rm", "", "a//b", "Scorer"])
def test_a_repository_docker_cannot_name_is_refused(repository) -> None:
    with pytest.raises(UserError, match="--repository"):
        specs.image_ref("myacr", repository, "bank", "1")


def test_two_models_of_the_same_version_get_different_tags() -> None:
    """A tag of the version alone made the second model's push overwrite the first's image."""
    first = specs.image_ref("myacr", specs.DEFAULT_REPOSITORY, "my", "1")
    second = specs.image_ref("myacr", specs.DEFAULT_REPOSITORY, "bankmarketing", "1")
    assert first != second


def test_a_version_docker_cannot_tag_is_one_line() -> None:
    with pytest.raises(UserError, match=r"'bank-1/2' is not a Docker image tag"):
        specs.image_tag("bank", "1/2")


def test_endpoint_yaml_loads_with_key_auth(tmp_path: Path) -> None:
    path = specs.write_yaml(tmp_path / "endpoint.yml", specs.endpoint_spec("amlstack-bank"))
    endpoint = load_online_endpoint(path)
    assert endpoint.name == "amlstack-bank"
    assert endpoint.auth_mode == "key"


def test_deployment_yaml_loads_and_names_the_scorer_contract(tmp_path: Path) -> None:
    path = specs.write_yaml(tmp_path / "deployment.yml", specs.deployment_spec(SETTINGS))
    dep = load_online_deployment(path)
    routes = dep.environment.inference_config
    assert routes == {
        "livenessRoute": {"port": contract.DEFAULT_PORT, "path": contract.LIVENESS_ROUTE},
        "readinessRoute": {"port": contract.DEFAULT_PORT, "path": contract.READINESS_ROUTE},
        "scoringRoute": {"port": contract.DEFAULT_PORT, "path": contract.SCORING_ROUTE},
    }
    assert dep.environment.image == "myacr.azurecr.io/amlstack-scorer:bank-7"
    assert dep.request_settings.max_concurrent_requests_per_instance == (
        contract.max_concurrency(3, 5) * specs.IN_FLIGHT_PER_WORKER
    )
    assert dep.request_settings.request_timeout_ms == contract.DEFAULT_TIMEOUT_S * 1000
    assert dep.app_insights_enabled is True
    assert dep.instance_type == specs.DEFAULT_INSTANCE_TYPE and dep.instance_count == 1
    assert dep.liveness_probe.failure_threshold >= 1 and dep.readiness_probe.period >= 1
    env = dep.environment_variables
    assert env[contract.AUTH_ENV] == "none"
    assert (env["AMLSTACK_WORKERS"], env["AMLSTACK_THREADS"]) == ("3", "5")
    # The plan file never holds the connection string; the live deployment does.
    assert env[contract.APPINSIGHTS_ENV] == specs.MASKED
    live = specs.deployment_spec(SETTINGS, mask_secrets=False)["environment_variables"]
    assert live[contract.APPINSIGHTS_ENV] == SETTINGS.appinsights_connection_string


def test_the_loaders_reject_a_broken_deployment(tmp_path: Path) -> None:
    """Negative control: a schema error in what we generate would fail this suite."""
    doc = specs.deployment_spec(SETTINGS)
    doc["environment"]["inference_config"]["scoring_route"]["port"] = "not-a-port"
    path = specs.write_yaml(tmp_path / "bad.yml", doc)
    with pytest.raises(ValidationError):
        load_online_deployment(path)
    bad_endpoint = specs.write_yaml(
        tmp_path / "bad-endpoint.yml", {**specs.endpoint_spec("e"), "auth_mode": "password"}
    )
    with pytest.raises(ValidationError):
        load_online_endpoint(bad_endpoint)


def test_automl_job_yaml_loads_as_a_classification_job(tmp_path: Path) -> None:
    settings = specs.AutoMLSettings(target="y", timeout_minutes=45, max_trials=12)
    job = load_job(automl_job_spec(DATA, "y", tmp_path / "automl", settings))
    assert type(job).__name__ == "ClassificationJob"
    assert str(job.primary_metric).lower().endswith("auc_weighted")
    assert job.target_column_name == "y"
    assert job.training.enable_onnx_compatible_models is True
    assert (job.limits.timeout_minutes, job.limits.max_trials) == (45, 12)
    table = yaml.safe_load((tmp_path / "automl" / "training-data" / "MLTable").read_text())
    assert table["paths"] == [{"file": f"./{DATA.name}"}]
    assert (tmp_path / "automl" / "training-data" / DATA.name).read_bytes() == DATA.read_bytes()


def test_automl_job_refuses_a_missing_target(tmp_path: Path) -> None:
    from amlstack.errors import DataError

    with pytest.raises(DataError, match="no target column 'label'"):
        automl_job_spec(DATA, "label", tmp_path)


def test_default_endpoint_name_is_always_valid() -> None:
    assert specs.default_endpoint_name("bankmarketing") == "amlstack-bankmarketing"
    assert specs.default_endpoint_name("Bank_Marketing.v2") == "amlstack-bank-marketing-v2"
    long = specs.default_endpoint_name("x" * 40 + "-y")
    assert len(long) <= 32 and not long.endswith("-")


def test_automl_job_reads_a_semicolon_csv_and_drops_columns(tmp_path: Path) -> None:
    semicolon = tmp_path / "bank.csv"
    rows = DATA.read_text().splitlines()[:200]
    semicolon.write_text("\n".join(row.replace(",", ";") for row in rows) + "\n")
    job = load_job(automl_job_spec(semicolon, "y", tmp_path / "automl", drop=("duration",)))
    assert job.target_column_name == "y"
    table = yaml.safe_load((tmp_path / "automl" / "training-data" / "MLTable").read_text())
    read, drop = table["transformations"]
    assert read["read_delimited"]["delimiter"] == ";"
    assert drop == {"drop_columns": ["duration"]}


def test_the_mltable_reads_a_windows_1252_file_in_its_encoding(tmp_path: Path) -> None:
    windows = tmp_path / "bank.csv"
    rows = DATA.read_text().splitlines()[:200]
    windows.write_bytes(
        # a note of three values: a constant column would be dropped (automl._schema_drops)
        (
            "\n".join([f"{rows[0]},note", *(f"{r},Zoë{i % 3}" for i, r in enumerate(rows[1:]))])
        ).encode("cp1252")
    )
    load_job(automl_job_spec(windows, "y", tmp_path / "automl"))
    table = yaml.safe_load((tmp_path / "automl" / "training-data" / "MLTable").read_text())
    (read,) = table["transformations"]
    assert read["read_delimited"]["encoding"] == "windows1252"
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode())
    automl_job_spec(excel, "y", tmp_path / "excel")
    table = yaml.safe_load((tmp_path / "excel" / "training-data" / "MLTable").read_text())
    assert table["transformations"][0]["read_delimited"]["encoding"] == "utf8bom"


def test_a_utf8_file_with_a_windows_line_is_refused_naming_the_line(tmp_path: Path) -> None:
    rows = DATA.read_text().splitlines()[:20]
    mixed = tmp_path / "bank.csv"
    mixed.write_bytes(
        b"".join(
            (f"{row},{'note' if i == 0 else 'Zoë'}\n").encode("cp1252" if i == 4 else "utf-8")
            for i, row in enumerate(rows)
        )
    )
    with pytest.raises(
        DataError,
        match=r"mixes UTF-8 and Windows-1252 lines \(1 Windows-1252, the first line 5\).*re-save",
    ):
        automl_job_spec(mixed, "y", tmp_path / "automl")


@pytest.mark.parametrize(
    ("drop", "message"),
    [("durration", "--drop durration: no such column .*did you mean 'duration'"),
     ("y", "--drop y: that is the target column")],
)  # fmt: skip
def test_automl_job_refuses_a_bad_drop_column(tmp_path: Path, drop: str, message: str) -> None:
    from amlstack.errors import DataError

    with pytest.raises(DataError, match=message):
        automl_job_spec(DATA, "y", tmp_path / "automl", drop=(drop,))
    assert not (tmp_path / "automl").exists()


def test_the_default_deployment_admits_the_default_benchmark_without_429() -> None:
    """Azure answers 429 past 2 x max_concurrent_requests_per_instance x instances pending
    (its online-endpoint troubleshooting guide); the old value (2) refused the benchmark's 10.
    """
    settings = specs.DeploymentSettings(endpoint="e-1", deployment="blue", image="r.azurecr.io/s:1")
    limit = specs.request_settings(settings)["max_concurrent_requests_per_instance"]
    assert 2 * limit * specs.DEFAULT_INSTANCE_COUNT >= specs.BENCHMARK_USERS
    # ... and no more than the scorer was measured to serve at its latency target.
    assert limit <= contract.max_concurrency(settings.workers, settings.threads) * 4


@pytest.mark.parametrize(
    ("instance_type", "count", "says"),
    [("", 1, "--instance-type ''"), ("DS3 v2", 1, "--instance-type"), ("Standard_DS3_v2", 0,
     "--instance-count 0")],
)  # fmt: skip
def test_a_deployment_azure_would_refuse_is_refused_here(instance_type, count, says) -> None:
    with pytest.raises(UserError, match=re.escape(says)):
        specs.DeploymentSettings("ep", "blue", "r.azurecr.io/s:m-1", instance_type, count)
