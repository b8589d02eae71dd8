"""Bad input to train, predict and models: one clear line, non-zero exit, no traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from amlstack.cli import main
from amlstack.errors import UserError


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "age,job,y\n30,admin,no\n40,tech,yes\n50,admin,no\n35,tech,yes\n"


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        ("", [], "empty"),
        ("age,job,y\n", [], "no data rows"),
        (GOOD, ["--target", "yy"], "did you mean 'y'"),
        (GOOD.replace("yes", "no"), [], "only one class"),
        ("\x00\x01\x02binary", [], "not a CSV"),
        ("age,age,y\n30,31,no\n40,41,yes\n", [], "'age' appears more than once in the header"),
        (
            "age,y\n" + "".join(f"{i},{'yes' if i % 2 else 'no'}\n" for i in range(30)) + "x7,no\n",
            [],
            "mixes numbers and text",
        ),
        (GOOD, ["--drop", "jobb"], "--drop jobb: no such column"),
        (GOOD, ["--time-budget", "0"], "--time-budget 0: must be a number of seconds above 0"),
        (GOOD, ["--time-budget", "inf"], "--time-budget inf: must be a number of seconds"),
        (GOOD, ["--time-budget", "nan"], "--time-budget nan: must be a number of seconds"),
        (GOOD, ["--max-trees", "0"], "--max-trees 0: must be at least 1"),
        (GOOD, ["--seed", "-1"], "--seed -1: must be from 0 to 4294967295"),
        (GOOD, ["--seed", "4294967296"], "--seed 4294967296: must be from 0"),
        (GOOD, ["--metric", "speed"], "--metric speed"),
        (GOOD, ["--learners", "lgbm,magic"], "unknown learner 'magic'"),
    ],
)
def test_bad_training_input_is_one_clear_line(tmp_path, capsys, content, extra, expected):
    data = write(tmp_path, "in.csv", content)
    code, _out, err = run_cli(
        ["train", "--data", str(data), "--out", str(tmp_path / "art"), *extra], capsys
    )
    assert code != 0
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "art").exists() or not any((tmp_path / "art").rglob("model.onnx"))


def test_missing_data_file(tmp_path, capsys):
    code, _, err = run_cli(["train", "--data", str(tmp_path / "nope.csv")], capsys)
    assert code != 0 and "no such file" in err


def test_predict_rejects_tampered_artifact(tiny_artifact, tmp_path, capsys, small_csv):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_artifact, copy)
    meta = copy / "model.json"
    meta.write_text(meta.read_text().replace('"threshold"', '"threshold" ', 1))
    code, _, err = run_cli(
        [
            "predict",
            "--model",
            str(copy),
            "--input",
            str(small_csv),
            "--output",
            str(tmp_path / "o.csv"),
        ],
        capsys,
    )
    assert code != 0
    assert "model.json does not match its sha256" in err
    assert not (tmp_path / "o.csv").exists()


def test_predict_names_missing_column(tiny_artifact, tmp_path, capsys):
    data = write(tmp_path, "in.csv", GOOD)
    code, _, err = run_cli(
        [
            "predict",
            "--model",
            str(tiny_artifact),
            "--input",
            str(data),
            "--output",
            str(tmp_path / "o.csv"),
        ],
        capsys,
    )
    assert code != 0 and "missing column(s) the model needs" in err and "marital" in err
    assert not (tmp_path / "o.csv").exists()


def test_predict_names_bad_number(tiny_artifact, tmp_path, capsys, small_csv):
    lines = small_csv.read_text().splitlines(True)[:4]
    lines[2] = "abc" + lines[2][lines[2].index(",") :]
    data = write(tmp_path, "in.csv", "".join(lines))
    code, _, err = run_cli(
        [
            "predict",
            "--model",
            str(tiny_artifact),
            "--input",
            str(data),
            "--output",
            str(tmp_path / "o.csv"),
        ],
        capsys,
    )
    assert code != 0 and "data row 2, column 'age': 'abc' is not a number" in err


def test_models_lists_versions(tiny_artifact, capsys):
    root = tiny_artifact.parent.parent
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "--root", str(root), "--json"])
    assert exit_info.value.code in (0, None)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["version"], r["ok"]) for r in rows] == [
        ("bankmarketing", tiny_artifact.name, True)
    ]
    assert 0.5 < rows[0]["AUC"] <= 1 and rows[0]["created"].startswith("20")


def test_a_local_only_option_typed_with_its_default_value_is_still_refused_for_azure(
    tmp_path, capsys, monkeypatch
):
    from amlstack.commands import model

    monkeypatch.setattr(model, "_train_azure", lambda *a: pytest.fail("reached Azure training"))
    data = write(tmp_path, "d.csv", GOOD)
    code, _, err = run_cli(
        ["train", "--data", str(data), "--backend", "azure", "--seed", "42"], capsys
    )
    assert code == 2 and "--seed applies to local training only" in err


def test_an_option_left_at_its_default_is_not_taken_as_given(tmp_path, capsys, monkeypatch):
    from amlstack.commands import model

    called = []
    monkeypatch.setattr(model, "_train_azure", lambda *a: called.append(a))
    data = write(tmp_path, "d.csv", GOOD)
    code, _, err = run_cli(["train", "--data", str(data), "--backend", "azure"], capsys)
    assert code == 0 and called, err


@pytest.mark.parametrize(
    ("file", "name"),
    [("tit anic é.csv", "tit-anic-e"), ("données_train.csv", "donnees"), ("日本.csv", "model")],
)
def test_a_model_name_from_any_file_name_is_a_valid_one(file, name):
    from amlstack.training.train import default_name

    assert default_name(Path(file)) == name


def test_models_shows_the_whole_path_on_a_narrow_terminal(tiny_artifact, capsys, monkeypatch):
    """The path is what `predict --model` takes: wrapped, never cut short with an ellipsis."""
    monkeypatch.setenv("COLUMNS", "60")
    root = tiny_artifact.parent.parent
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "--root", str(root)])
    assert exit_info.value.code in (0, None)
    lines = capsys.readouterr().out.splitlines()[3:]
    cells = [line.split("│")[-2].strip() for line in lines if "│" in line]
    assert "".join(cells) == str(tiny_artifact)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--model", "{art}", "--host", " ", "--no-auth"], "--host: give an address"),
        (["serve", "--model", "{art}", "--host", "not a host", "--no-auth"],
         "--host: 'not a host' is not an IP address or host name to bind"),
        (["loadtest", "--host", "http://127.0.0.1:9", "--run-time", "0s", "--key", "k" * 20],
         "--run-time '0s': a duration above 0"),
        (["registry", "add", "{art}", "--name", "../../x", "--registry", "{tmp}/reg"],
         "model name '../../x'"),
    ],
    ids=["empty-host", "host-with-blanks", "zero-run-time", "name-outside-the-registry"],
)  # fmt: skip
def test_an_option_that_would_do_harm_is_one_line(tiny_artifact, tmp_path, capsys, args, expected):
    """Each of these exited 0 and did harm: bound every interface, never stopped, wrote x/ two
    folders above the registry."""
    args = [a.format(art=tiny_artifact, tmp=tmp_path) for a in args]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and expected in " ".join(err.split())
    assert not (tmp_path.parent / "x").exists()


def test_a_path_the_user_gave_that_cannot_be_written_is_named_not_a_bug(tmp_path, capsys):
    """Any command: an OSError about a path is the user's to fix (it was exit 70, 'a bug')."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(["pipeline", "publish", "--out", str(blocker / "sub")], capsys)
    assert code == 2 and "this is a bug" not in err and str(blocker) in err


@pytest.mark.parametrize("content", [None, '{"primaryKey": "short"}', "{not json"])
def test_a_key_file_the_workers_cannot_read_is_refused_before_they_start(
    tiny_artifact, tmp_path, capsys, content
):
    key_file = tmp_path / "keys"
    if content is None:
        key_file.mkdir()
    else:
        key_file.write_text(content)
    code, _, err = run_cli(["serve", "--model", str(tiny_artifact), "--key-file", str(key_file),
                            "--port", "9"], capsys)  # fmt: skip
    assert code == 2 and f"--key-file {key_file}" in " ".join(err.split())


@pytest.mark.parametrize(
    ("extra", "expected"),
    [(["--backend", "bogus"], "--backend bogus: choose local or azure"),
     (["--max-iter", "0"], "--max-iter 0: must be at least 1"),
     (["--time-budget", "0"], "--time-budget 0: must be a number of seconds above 0"),
     (["--seed", "-1"], "--seed -1: must be from 0 to")],
)  # fmt: skip
def test_pipeline_run_refuses_what_train_refuses(tmp_path, capsys, extra, expected):
    """--backend bogus ran on Azure; 0 was read as no limit; TrainConfig.check owns the limits."""
    code, _, err = run_cli(["pipeline", "run", "--runs", str(tmp_path / "runs"), *extra], capsys)
    assert code == 2 and expected in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [(["--keep", "NOSUCH"], "--keep NOSUCH: no such column in {data}"),
     (["--drop", "JOB"], "--drop JOB: no such column in {data} (did you mean 'job'?)"),
     (["--target", "Y"], "{data}: no target column 'Y' (did you mean 'y'?)"),
     (["--keep", "job", "--drop", "job"], "--drop job and --keep job: choose one")],
)  # fmt: skip
def test_pipeline_run_checks_its_columns_against_the_users_file_first(
    tmp_path, capsys, extra, expected
):
    """--keep NOSUCH failed at the train stage, naming the run's copy of the data."""
    data = write(tmp_path, "d.csv", GOOD)
    code, _, err = run_cli(
        ["pipeline", "run", "--data", str(data), "--runs", str(tmp_path / "runs"), *extra], capsys
    )
    assert code == 2 and expected.format(data=data) in " ".join(err.split())
    assert not (tmp_path / "runs").exists()


def test_models_lists_a_hand_edited_card_without_failing(tmp_path, capsys, monkeypatch):
    """A model.json that is JSON but not a card was 'a bug'; a name "[/]" crashed rich."""
    monkeypatch.setenv("COLUMNS", "200")
    for name, text in (("a", "[]"), ("b", '{"name": "[/]", "metrics": {"holdout": {"AUC": "x"}}}')):
        (tmp_path / name / "1").mkdir(parents=True)
        (tmp_path / name / "1" / "model.json").write_text(text)
    code, out, err = run_cli(["models", "--root", str(tmp_path)], capsys)
    assert code == 0, err
    assert "[/]" in out and out.count("no manifest") == 2


def test_a_scoring_url_is_read_as_a_url():
    """http://h/?x=1 posted to ?x=1/score; http://[::1 was 'a bug'."""
    from amlstack.commands.serve import _score_url

    assert _score_url("http://h/?x=1") == "http://h/score?x=1"
    assert _score_url("http://h:5001") == "http://h:5001/score"
    for bad in ("http://[::1", "http://h:abc/", "ftp://h/"):
        with pytest.raises(UserError, match=f"--url '{re.escape(bad)}'"):
            _score_url(bad)


def test_a_context_of_no_column_a_file_for_data_and_a_missing_artifact_are_named(tmp_path, capsys):
    from amlstack.commands.model import _contexts
    from amlstack.pipeline.drift import read_training_profile

    assert _contexts([","], tmp_path / "d.csv", "y") == ()  # was an empty, constant feature
    code, _, err = run_cli(["train", "--data", str(tmp_path), "--out", str(tmp_path)], capsys)
    assert code == 2 and "a folder; name the CSV file" in err  # was "no such file"
    with pytest.raises(UserError, match="no such artifact directory"):
        read_training_profile(tmp_path / "missing")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--cron", "bogus"], "--cron 'bogus': five fields"),
        (["--compute", ""], "--compute ''"),
        (["--cron", "0 3 * * 8"], "weekday 0-6"),
        (["--cron", "99 99 * * *"], "minute 0-59"),
    ],
)
def test_publish_refuses_a_schedule_or_compute_azure_would_refuse(
    tmp_path, capsys, extra, expected
):
    code, _, err = run_cli(["pipeline", "publish", "--out", str(tmp_path / "p"), *extra], capsys)
    assert code == 2 and expected in err
    assert not (tmp_path / "p").exists()


def test_registry_list_of_an_empty_or_mistyped_registry_says_so(tmp_path, capsys):
    code, out, _ = run_cli(["registry", "list", "--registry", str(tmp_path / "regsitry")], capsys)
    assert code == 0 and "nothing registered in" in out


def test_predict_output_with_a_trailing_slash_is_a_folder_not_a_file(
    tmp_path, capsys, tiny_artifact, small_csv
):
    """`--output out/` for a folder that did not exist wrote a file named `out`."""
    code, _, err = run_cli(["predict", "--model", str(tiny_artifact), "--input", str(small_csv),
                            "--output", f"{tmp_path / 'out'}/"], capsys)  # fmt: skip
    assert code == 2 and "a folder; name the file to write" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key", ["秘密" * 9, "clé-0123456789abcdef", "tab\there-0123456789"])
def test_score_refuses_a_key_no_header_carries_naming_the_option(tmp_path, capsys, key):
    """A key outside Latin-1 was 'a bug' (UnicodeEncodeError in requests), exit 70."""
    code, _, err = run_cli(
        ["score", "--url", "http://127.0.0.1:9", "--key", key,
         "--data-out", str(tmp_path / "data.json")],
        capsys,
    )  # fmt: skip
    assert code == 2 and "--key (or AMLSTACK_PRIMARY_KEY): keys must be printable ASCII" in err
    assert key not in err and "bug" not in err


def test_pipeline_run_trains_with_the_columns_train_would_drop_or_keep(tmp_path, capsys):
    """A model trained with --drop id --keep rank was retrained by the pipeline without them."""
    from amlstack.pipeline import stages

    config = stages.RunConfig(data="d.csv", drop=["id"], keep=["rank"])
    train_config = stages.train_config(Path("d.csv"), tmp_path, config)
    assert (train_config.drop, train_config.keep) == (("id",), ("rank",))
    code, _, err = run_cli(["pipeline", "run", "--runs", str(tmp_path / "runs"), "--keep", "rank",
                            "--backend", "azure"], capsys)  # fmt: skip
    assert code == 2 and "--keep applies to the local backend only" in err


def test_a_notice_naming_a_column_with_markup_in_its_name_is_printed_as_written(capsys):
    """rich read `[/]` in a column's name as markup: MarkupError, reported as a bug."""
    from amlstack.commands.model import _LiveProgress

    with _LiveProgress(None) as show:
        show.notice("column '[/]odd [b]name': dropped: 'x' in every row")
    assert "column '[/]odd [b]name': dropped" in capsys.readouterr().err
