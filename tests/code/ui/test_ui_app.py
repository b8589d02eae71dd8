"""The UI's server side with a stand-in scorer: the form from swagger.json, field errors, the
key staying on the server, and CSV files scored in chunks with a per-row error report."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from amlstack_ui import batch, form, insights
from amlstack_ui.app import create_app
from amlstack_ui.scorer import Answer, ScorerBusy, ScorerClient, ScorerUnavailable
from amlstack_ui.settings import Settings, SettingsError

from amlstack.artifact.scored import output_columns
from amlstack.errors import DataError
from amlstack.training.data import detect_delimiter, read_table

GOLDEN = Path(__file__).resolve().parents[1] / "scorer" / "golden" / "swagger2.json"
DATA = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"
SECRET = "a-secret-key-that-must-stay-on-the-server"


class FakeScorer:
    """Answers like the scorer: 422 naming the field of the first non-numeric numeric value."""

    def __init__(self) -> None:
        self.doc = json.loads(GOLDEN.read_text())
        self.fields = form.fields_from_swagger(self.doc)
        self.calls: list[int] = []
        self.key_value = SECRET

    def swagger(self) -> dict[str, Any]:
        return self.doc

    def card(self) -> dict[str, Any]:
        return {"name": "bankmarketing", "version": "1", "threshold": 0.4, "profile": {}}

    def score(self, records: list[dict[str, Any]], *, explain: bool = False) -> Answer:
        self.calls.append(len(records))
        for i, record in enumerate(records):
            for f in self.fields:
                if f.required and f.name not in record:
                    return self._error(f"Object missing required field `{f.name}`", i, f.name)
                if not f.categorical and not isinstance(record[f.name], float):
                    return self._error("Expected `float`, got `str`", i, f.name)
        body: dict[str, Any] = {
            "predictions": ["yes" if r["age"] > 50 else "no" for r in records],
            "probabilities": [{"no": 0.3, "yes": 0.7} for _ in records],
            "model": {"name": "bankmarketing", "version": "1"},
        }
        if explain:
            body["explanations"] = [
                {"base": 0.1, "contributions": {"age": 0.4, "duration": 0.25, "month": -0.05}}
                for _ in records
            ]
        return Answer(200, body)

    @staticmethod
    def _error(message: str, row: int, name: str) -> Answer:
        field = f"data[{row}].{name}"
        return Answer(422, {"error": {"code": "invalid_input", "message": message, "field": field}})


@pytest.fixture
def scorer() -> FakeScorer:
    return FakeScorer()


@pytest.fixture
def client(tmp_path, scorer):
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=1)
    app = create_app(settings, client=scorer)  # type: ignore[arg-type]
    return app.test_client()


def test_the_form_is_generated_from_the_schema(client):
    page = client.get("/score").get_data(as_text=True)
    assert '<select id="f12-job" name="job"' in page
    assert '<option value="technician"' in page
    assert 'id="f0-age"' in page and "Training range 18 to 86" in page
    assert '<label for="f9-emp-var-rate">emp.var.rate</label>' in page
    # It starts at the documented example customer, not at an empty (all-imputed) record.
    assert 'id="f0-age" name="age" value="52"' in page


def test_a_scored_customer_shows_label_probability_threshold_and_reasons(client, scorer):
    values = {f.name: str(f.example) for f in scorer.fields}
    page = client.post("/score", data=values).get_data(as_text=True)
    assert 'id="predicted-label">yes<' in page and '<div class="verdict yes"' in page
    assert "70.0%" in page and "40.0%" in page  # probability, threshold
    assert page.count('class="bar up"') == 2 and page.count('class="bar down"') == 1
    assert SECRET not in page


def test_the_scorers_field_error_is_shown_next_to_the_field(client, scorer):
    values = {f.name: str(f.example) for f in scorer.fields}
    values["age"] = ""
    response = client.post("/score", data=values)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="f0-age-error" role="alert">age is required<' in page
    assert 'id="f0-age" name="age" value="" aria-invalid="true"' in page


def test_the_refused_field_has_the_focus_so_a_keyboard_user_can_fix_it_at_once(client, scorer):
    """After a 422 the page opened with the focus on <body>: a keyboard user tabbed through
    every field before the refused one to reach it."""
    values = {f.name: str(f.example) for f in scorer.fields}
    page = client.post("/score", data={**values, "duration": "long"}).get_data(as_text=True)
    assert page.count(" autofocus") == 1
    assert re.search(r'<input [^>]*id="f\d+-duration"[^>]* aria-invalid="true" autofocus', page)


def test_an_out_of_range_value_is_scored_with_a_note(client, scorer):
    values = {f.name: str(f.example) for f in scorer.fields}
    values["age"] = "120"
    page = client.post("/score", data=values).get_data(as_text=True)
    assert "outside the training range (18 to 86): scored as 86" in page


def test_names_that_spell_alike_in_ascii_get_their_own_ids(tmp_path):
    """Labels and help text point at their own input, whatever the names' characters."""
    names = ["a.b", "a/b", "名前", "年齢", "#count", "@count", "café", "cafè"]
    scorer = FakeScorer()
    scorer.doc["definitions"]["InputRecord"] = {
        "type": "object",
        "properties": {name: {"type": "number", "example": 1.0} for name in names},
    }
    settings = Settings(jobs_dir=tmp_path / "jobs")
    page = create_app(settings, client=scorer).test_client().get("/score").get_data(as_text=True)
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    fors = re.findall(r'<label for="([^"]+)">([^<]+)</label>', page)
    assert [html.unescape(label) for _, label in fors] == names
    for target, label in fors:
        assert f'id="{target}" name="{label}"' in page
        assert f'aria-describedby="{target}-help"' in page and f'id="{target}-help"' in page


def _csv(rows: int, delimiter: str, bad_lines: tuple[int, ...] = (), drop: str = "") -> bytes:
    with DATA.open(newline="") as handle:
        reader = csv.DictReader(handle)
        records = [row for _, row in zip(range(rows), reader, strict=False)]
    names = [n for n in records[0] if n != drop]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    for i, record in enumerate(records):
        if i in bad_lines:
            record = {**record, "duration": "long"}
        writer.writerow(record)
    return out.getvalue().encode()


def _finish(client, location: str) -> dict[str, Any]:
    job = location.rsplit("/", 1)[-1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get(f"/batch/{job}/status").get_json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_file_is_scored_in_chunks_with_a_row_error_report(client, scorer, delimiter):
    body = _csv(30, delimiter, bad_lines=(4, 20))
    response = client.post("/batch", data={"file": (io.BytesIO(body), "customers.csv")})
    assert response.status_code == 303
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 28, "rows_failed": 2}
    assert max(scorer.calls) <= 7  # never more than one chunk per call
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(scored), delimiter=delimiter))
    assert len(rows) == 30 and rows[0]["y"] in ("yes", "no")  # the target column is kept
    assert rows[4]["error"] == "duration must be a number" and rows[4]["probability"] == ""
    assert rows[0]["probability"] == "0.700000" and rows[0]["label"] in ("yes", "no")
    errors = client.get(f"/batch/{job}/errors.csv").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(errors), delimiter=delimiter))
    assert lines[1:] == [["6", "duration", "duration must be a number"],
                         ["22", "duration", "duration must be a number"]]  # fmt: skip
    page = client.get(f"/batch/{job}").get_data(as_text=True)
    assert "28 rows scored, 2 rows with errors" in page


def test_a_file_without_a_model_column_fails_with_one_line(client):
    body = _csv(5, ",", drop="age")
    response = client.post("/batch", data={"file": (io.BytesIO(body), "x.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed"
    assert status["message"] == "the file has no column age (columns are read from line 1)"


def test_a_cell_over_128_kib_is_scored_and_one_over_the_limit_fails_naming_its_line(
    client, monkeypatch
):
    """Python's csv refuses a cell over 128 KiB: the job said "internal error (Error)". It
    reads cells up to MAX_CELL_CHARS, and one past that is a line."""
    lines = _csv(5, ",").decode().splitlines()
    lines = [lines[0] + ",note"] + [f"{line},{'x' * 200_000 if i == 2 else 'short'}"
                                    for i, line in enumerate(lines[1:], 1)]  # fmt: skip
    body = ("\n".join(lines) + "\n").encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "long.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 5, "message": ""}
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(scored)))
    assert len(rows[1]["note"]) == 200_000 and rows[1]["probability"]

    limit = csv.field_size_limit()
    monkeypatch.setattr(batch, "MAX_CELL_CHARS", 1000)
    try:
        response = client.post("/batch", data={"file": (io.BytesIO(body), "long.csv")})
        status = _finish(client, response.headers["Location"])
    finally:
        csv.field_size_limit(limit)
    assert status["state"] == "failed"
    assert status["message"] == "line 3: a cell longer than 1,000 characters (a quote left open?)"


def test_an_upload_cell_longer_than_the_ui_holds_fails_naming_its_line(tmp_path, scorer):
    """The UI holds a chunk of rows in a 512 MB container: a cell it reads is at most 4 Mi
    characters (an unclosed quote reads to the end of the file: 64 Mi of it weighed 450 MB)."""
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=8)
    client = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    lines = _csv(3, ",").decode().splitlines()
    body = "\n".join([lines[0] + ",note", lines[1] + ',"' + "x" * (4 * 1024 * 1024 + 1)]) + "\n"
    response = client.post("/batch", data={"file": (io.BytesIO(body.encode()), "open.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed"
    assert status["message"] == (
        "line 2: a cell longer than 4,194,304 characters (a quote left open?)"
    )


def test_an_upload_over_the_limit_is_refused(client):
    big = b"age,job\n" + b"1,x\n" * 400_000  # > 1 MB
    response = client.post("/batch", data={"file": (io.BytesIO(big), "big.csv")})
    assert response.status_code == 413
    assert "larger than the 1 MB upload limit" in response.get_data(as_text=True)


def test_job_ids_that_are_not_ours_are_not_found(client):
    assert client.get("/batch/../../etc/passwd").status_code == 404
    assert client.get("/batch/" + "0" * 32 + "/scored.csv").status_code == 404


def test_semicolon_tab_and_pipe_files_are_recognised_by_their_header():
    assert batch.header_delimiter('"age";"job";"marital"') == ";"
    assert batch.header_delimiter("age,job,marital") == ","
    assert batch.header_delimiter("age\tjob\tmarital") == "\t"
    assert batch.header_delimiter("age|job|marital") == "|"
    assert batch.header_delimiter("age") is None  # one column


def test_bad_settings_name_the_variable():
    with pytest.raises(SettingsError, match="AMLSTACK_UI_CHUNK_ROWS"):
        Settings.from_env({"AMLSTACK_UI_CHUNK_ROWS": "many"})
    with pytest.raises(SettingsError, match="AMLSTACK_UI_SCORER_URL"):
        Settings.from_env({"AMLSTACK_UI_SCORER_URL": "scorer:5001"})


@pytest.mark.slow
def test_a_100k_row_file_is_scored_in_bounded_memory(tmp_path, scorer):
    """100,000 rows through score_file: every row scored, and memory holds about one chunk.

    The rows alone, read whole as csv lists, would take well over 100 MB of Python objects;
    streaming a 1,000-row chunk at a time keeps the peak well under the file's own size (4 MB
    for 12.6 MB, measured).
    """
    import tracemalloc

    folder = tmp_path / "job"
    folder.mkdir()
    head, *rows = _csv(500, ",").decode().splitlines(keepends=True)
    with (folder / batch.INPUT).open("w") as handle:
        handle.write(head)
        for i in range(100_000):
            handle.write(rows[i % len(rows)])
    size = (folder / batch.INPUT).stat().st_size
    status = batch.Status()
    tracemalloc.start()
    try:
        batch.score_file(folder, status, scorer.fields, scorer, chunk_rows=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status.rows_done, status.rows_scored, status.rows_failed) == (100_000, 100_000, 0)
    assert max(scorer.calls) == 1000
    with (folder / batch.SCORED).open(newline="") as handle:
        assert sum(1 for _ in handle) == 100_001
    assert peak < size / 2, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Expected `float`, got `str`", "age must be a number"),
        ("Expected `float | null`, got `str`", "age must be a number"),  # a nullable field
        (
            "expected a number or null, got the text '12%'; send it as a JSON number: 12",
            "age must be a number",
        ),  # the scorer names the text it refused
        ("Expected `str | null`, got `int`", "age must be one of its categories"),
        ("Object missing required field `age`", "age is required"),
        ("something else", "something else"),
    ],
)
def test_scorer_messages_are_put_in_words(message, expected):
    assert form.friendly(message, "age") == expected


@pytest.mark.parametrize(
    ("text", "number_format", "expected"),
    [
        ("1,035.70", "thousands", 1035.7),
        ("17,5", "decimal_comma", 17.5),
        ("1.234,5", "decimal_comma", 1234.5),
        ("17.5", "decimal_comma", "17.5"),  # refused as predict and text/csv refuse it
        (" 12.5% ", "percent", 12.5),
        ("($1,200.50)", "currency", -1200.5),
        ("7:30 pm", "time", 19.5),
        ("1035.7", "thousands", 1035.7),
        ("1,035.70", None, "1,035.70"),  # no format: passed on for the scorer to name
        ("many", "thousands", "many"),
        ("inf", None, "inf"),
    ],
)
def test_a_number_is_read_as_training_wrote_its_column(text, number_format, expected):
    assert form.parse_number(text, number_format) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("135 lb", 135.0), ("135LB", 135.0), ("135", 135.0), ("61 kg", "61 kg")]
)
def test_a_number_with_its_columns_unit_is_read_and_another_unit_passed_on(text, expected):
    assert form.parse_number(text, "unit", "lb") == expected


def test_an_upload_written_like_the_training_data_is_scored(tmp_path, scorer):
    """A file of `1,035` cells in a column training read with thousands separators."""
    scorer.doc["definitions"]["InputRecord"]["properties"]["duration"]["x-number-format"] = (
        "thousands"
    )
    scorer.fields = form.fields_from_swagger(scorer.doc)
    assert [f.number_format for f in scorer.fields if f.number_format] == ["thousands"]
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=1)
    client = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    lines = _csv(5, ",").decode().splitlines()
    column = lines[0].split(",").index("duration")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[column] = f'"{int(row[column]) + 1000:,}"'
    body = "\n".join([lines[0], *(",".join(row) for row in rows)]).encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "customers.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 5, "rows_failed": 0}


def test_a_decimal_comma_upload_gets_its_probabilities_with_a_comma(tmp_path, scorer):
    """As `amlstack predict` writes them: the scored file reads back in the user's locale."""
    scorer.doc["definitions"]["InputRecord"]["properties"]["euribor3m"]["x-number-format"] = (
        "decimal_comma"
    )
    scorer.fields = form.fields_from_swagger(scorer.doc)
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=1)
    client = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    rows = list(csv.DictReader(io.StringIO(_csv(5, ";").decode()), delimiter=";"))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    writer.writerows({**r, "euribor3m": r["euribor3m"].replace(".", ",")} for r in rows)
    body = out.getvalue().encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "europe.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 5, "rows_failed": 0}
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv").get_data(as_text=True)
    shown = [r["probability"] for r in csv.DictReader(io.StringIO(scored), delimiter=";")]
    assert len(shown) == 5 and all("," in p and "." not in p for p in shown)


def test_a_scored_file_uploaded_again_gets_its_columns_replaced_not_repeated(client):
    lines = _csv(4, ",").decode().splitlines()
    body = "\n".join(
        [f"{lines[0]},probability,label,error", *(f"{line},0.5,stale,old" for line in lines[1:])]
    )
    response = client.post("/batch", data={"file": (io.BytesIO(body.encode()), "again.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 4, "rows_failed": 0}
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv").get_data(as_text=True)
    header, *rows = list(csv.reader(io.StringIO(scored)))
    assert header.count("label") == 1 and header[-3:] == ["probability", "label", "error"]
    assert {row[-2] for row in rows} <= {"yes", "no"} and {row[-1] for row in rows} == {""}


def test_a_windows_1252_upload_is_read_as_training_reads_it(client):
    lines = _csv(4, ",").decode().splitlines()
    body = "\r\n".join([f"{lines[0]},note", *(f"{line},“Zoë”" for line in lines[1:])])
    response = client.post("/batch", data={"file": (io.BytesIO(body.encode("cp1252")), "w.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 4, "rows_failed": 0}
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(scored)))
    assert [row["note"] for row in rows] == ["“Zoë”"] * 4


def test_a_utf8_upload_with_one_windows_line_keeps_the_other_lines_utf8(client):
    lines = _csv(4, ",").decode().splitlines()
    text = [f"{lines[0]},note", *(f"{line},“Zoë”" for line in lines[1:])]
    body = b"\r\n".join(line.encode("cp1252" if i == 2 else "utf-8") for i, line in enumerate(text))
    response = client.post("/batch", data={"file": (io.BytesIO(body), "m.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 4, "rows_failed": 0}
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(scored)))
    assert [row["note"] for row in rows] == ["“Zoë”"] * 4  # not 'â€œZoÃ«â€'


def test_a_word_training_read_as_missing_is_sent_as_null():
    doc = json.loads(GOLDEN.read_text())
    duration = doc["definitions"]["InputRecord"]["properties"]["duration"]
    duration.update({"x-missing-words": ["other"], "x-nullable": True})
    fields = form.fields_from_swagger(doc)
    values = {f.name: str(f.example) for f in fields}
    values["duration"] = " Other"
    assert form.record_from_values(fields, values)["duration"] is None


def test_missing_markers_are_null_and_a_decimal_comma_field_shows_its_comma():
    doc = json.loads(GOLDEN.read_text())
    props = doc["definitions"]["InputRecord"]["properties"]
    props["duration"].update({"x-number-format": "decimal_comma", "x-nullable": True})
    props["euribor3m"]["x-number-format"] = "decimal_comma"
    props["job"]["x-nullable"] = True
    fields = {f.name: f for f in form.fields_from_swagger(doc)}
    values = {name: str(f.example) for name, f in fields.items()}
    values.update(duration="NA", job=" null ")
    record = form.record_from_values(list(fields.values()), values)
    assert record["duration"] is None and record["job"] is None  # as predict reads them
    rate = fields["euribor3m"]  # 0.634 to 5, shown as the column is written
    assert rate.range_text == "0,634 to 5" and "." not in rate.default


def test_a_time_field_shows_and_reads_times_of_day():
    doc = json.loads(GOLDEN.read_text())
    props = doc["definitions"]["InputRecord"]["properties"]
    props["duration"].update({"x-number-format": "time", "example": 7.5})
    props["duration"].update({"x-training-minimum": 0.25, "x-training-maximum": 23.5})
    fields = {f.name: f for f in form.fields_from_swagger(doc)}
    at = fields["duration"]
    assert (at.range_text, at.default, at.input_mode) == ("00:15 to 23:30", "07:30", "text")
    values = {name: str(f.example) for name, f in fields.items()}
    values["duration"] = at.default
    assert form.record_from_values(list(fields.values()), values)["duration"] == 7.5


def test_an_upload_without_a_model_column_is_refused_even_if_the_field_may_be_null(tmp_path):
    doc = json.loads(GOLDEN.read_text())
    record = doc["definitions"]["InputRecord"]
    record.pop("required", None)
    for spec in record["properties"].values():
        spec["x-nullable"] = True
    scorer = FakeScorer()
    scorer.doc, scorer.fields = doc, form.fields_from_swagger(doc)
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=1)
    client = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    body = _csv(5, ",", drop="duration")
    response = client.post("/batch", data={"file": (io.BytesIO(body), "customers.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed" and "the file has no column duration" in status["message"]
    assert scorer.calls == []


def test_a_row_with_surplus_fields_is_a_row_error_not_scored(client, scorer):
    lines = _csv(4, ",").decode().splitlines()
    lines[2] += ",surplus"
    body = "\n".join(lines).encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "w.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 3, "rows_failed": 1}
    width = len(lines[0].split(","))
    job = response.headers["Location"].rsplit("/", 1)[-1]
    errors = client.get(f"/batch/{job}/errors.csv").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(errors)))[1:] == [
        ["3", "", f"{width + 1} fields, the header has {width}"]
    ]


def test_every_page_has_an_icon_and_favicon_ico_is_not_a_404(client):
    page = client.get("/batch").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    assert client.get("/static/favicon.svg").status_code == 200
    assert client.get("/favicon.ico").status_code == 204


class FakePrometheus:
    """Answers the Insights queries: one scorer replica down, a little traffic."""

    def query(self, promql: str) -> list[dict[str, Any]]:
        if promql == insights.TARGETS:
            return [{"metric": {"instance": "172.18.0.3:5001"}, "value": [0, "0"]}]
        return [{"metric": {}, "value": [0, "0.5"]}]

    def query_range(self, promql: str, start: float, end: float, step: int) -> list[dict]:
        return [{"metric": {}, "values": [[start, "0.5"], [end, "NaN"]]}]


def test_insights_shows_prometheus_figures_while_the_scorer_is_down(tmp_path, monkeypatch):
    """The outage the page exists to show must not take the page down: targets and request
    figures come from Prometheus; only drift, which needs the card's profile, is unavailable."""

    class DownScorer(FakeScorer):
        def card(self) -> dict[str, Any]:
            raise ScorerUnavailable("the scorer answered 503 on /model/card")

    fake = FakePrometheus()
    monkeypatch.setattr(insights.Prometheus, "query", lambda self, q: fake.query(q))
    monkeypatch.setattr(insights.Prometheus, "query_range", lambda self, *a: fake.query_range(*a))
    settings = Settings(jobs_dir=tmp_path / "jobs")
    app = create_app(settings, client=DownScorer())  # type: ignore[arg-type]
    response = app.test_client().get("/insights")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<span class="pill down">172.18.0.3:5001 down</span>' in page
    assert 'id="stat-rps">0.50<' in page and 'id="series-data"' in page
    assert 'id="drift-problem"' in page and 'id="drift"' not in page
    assert "the scorer answered 503 on /model/card" in page
    # the scorer's own pages still say it is down
    assert app.test_client().get("/model").status_code == 503
    up = create_app(settings, client=FakeScorer()).test_client()  # type: ignore[arg-type]
    page = up.get("/insights").get_data(as_text=True)
    assert 'id="drift"' in page and 'id="drift-problem"' not in page


def test_a_binary_upload_is_refused_in_the_words_of_amlstack_predict(client, tmp_path):
    body = bytes(range(256)) * 80  # binary data: NUL bytes among the rest
    path = tmp_path / "binary.csv"
    path.write_bytes(body)
    with pytest.raises(DataError) as cli:  # what `amlstack predict` and training say
        read_table(path)
    response = client.post("/batch", data={"file": (io.BytesIO(body), "binary.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed"
    assert status["message"] == "not a CSV file (it holds binary data)"
    assert str(cli.value) == f"{path}: {status['message']}"


def test_the_batch_page_names_every_delimiter_the_reader_takes(client):
    page = client.get("/batch").get_data(as_text=True)
    assert "comma, semicolon, tab or pipe separated" in page


class FlakyScorer(FakeScorer):
    """A scorer whose calls listed in ``down`` fail as a restart of the replicas does: no
    connection, or the proxy's 503 with a Retry-After."""

    def __init__(self, down: dict[int, Any]) -> None:
        super().__init__()
        self.down = down
        self.tries = 0

    def score(self, records: list[dict[str, Any]], *, explain: bool = False) -> Answer:
        self.tries += 1
        failure = self.down.get(self.tries)
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            return failure
        return super().score(records, explain=explain)


class FakeTime:
    """A clock that moves only when slept on, so a test of the backoff waits for nothing."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def retry(self, **bounds: Any) -> batch.Retry:
        return batch.Retry(sleep=self.sleep, clock=lambda: self.now, **bounds)


def _job_folder(tmp_path: Path, rows: int) -> Path:
    folder = tmp_path / "job"
    folder.mkdir(parents=True)
    (folder / batch.INPUT).write_bytes(_csv(rows, ","))
    return folder


def test_a_chunk_is_sent_again_while_the_scorer_restarts(tmp_path):
    refused = ScorerBusy("the scorer at http://proxy:5001 is not answering (ConnectionError)")
    shed = Answer(503, {"error": {"code": "overloaded", "message": "queue full"}}, 5.0)
    scorer = FlakyScorer({2: refused, 3: refused, 4: shed})  # the 2nd chunk, three times
    clock = FakeTime()
    status = batch.Status()
    folder = _job_folder(tmp_path, 20)
    shown: list[str] = []  # what the job page says while it waits

    def sleep(seconds: float) -> None:
        shown.append(json.loads((folder / batch.STATUS).read_text())["message"])
        clock.sleep(seconds)

    retry = batch.Retry(sleep=sleep, clock=lambda: clock.now)
    batch.score_file(folder, status, scorer.fields, scorer, 7, retry)
    assert (status.rows_done, status.rows_scored, status.rows_failed) == (20, 20, 0)
    assert clock.waits == [1.0, 2.0, 5.0]  # backoff, then the answer's Retry-After
    assert shown[0] == f"{refused}: trying again in 1 s"
    assert shown[2] == "the scorer answered HTTP 503 (queue full): trying again in 5 s"
    assert status.message == ""
    assert scorer.calls == [7, 7, 6]
    assert sum(1 for _ in (folder / batch.SCORED).open()) == 21


def test_a_scorer_that_stays_down_is_given_up_on_within_the_bounds(tmp_path):
    refused = ScorerBusy("the scorer at http://proxy:5001 is not answering (ConnectionError)")
    scorer = FlakyScorer({n: refused for n in range(1, 1000)})
    clock = FakeTime()
    retry = clock.retry()
    with pytest.raises(ScorerUnavailable) as down:
        batch.score_file(_job_folder(tmp_path, 5), batch.Status(), scorer.fields, scorer, 7, retry)
    assert scorer.tries == retry.attempts and sum(clock.waits) <= retry.budget_s
    assert max(clock.waits) <= retry.max_s
    assert str(down.value) == (
        "the scorer at http://proxy:5001 is not answering (ConnectionError); "
        f"gave up after {retry.attempts} tries in {sum(clock.waits):.0f} s"
    )
    # a Retry-After past the budget is not waited for
    scorer = FlakyScorer({n: Answer(503, {}, 600.0) for n in range(1, 1000)})
    folder = _job_folder(tmp_path / "b", 5)
    with pytest.raises(ScorerUnavailable, match=r"HTTP 503 .*gave up after 1 try in 0 s"):
        batch.score_file(folder, batch.Status(), scorer.fields, scorer, 7, FakeTime().retry())


def test_a_job_that_fails_midway_keeps_its_scored_rows_downloadable(tmp_path):
    refused = ScorerBusy("the scorer at http://proxy:5001 is not answering (ConnectionError)")
    scorer = FlakyScorer({n: refused for n in range(3, 1000)})  # down after two chunks
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=1)
    app = create_app(settings, client=scorer, retry=FakeTime().retry())  # type: ignore[arg-type]
    client = app.test_client()
    lines = _csv(30, ",").decode().splitlines()
    lines[4] += ",surplus"  # line 5: a row error the scorer is not asked about
    body = "\n".join(lines).encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "customers.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "failed", "rows_done": 14, "rows_scored": 13}
    assert scorer.calls == [6, 7]
    assert "is not answering (ConnectionError); gave up after" in status["message"]
    job = response.headers["Location"].rsplit("/", 1)[-1]
    scored = client.get(f"/batch/{job}/scored.csv")
    assert scored.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(scored.get_data(as_text=True))))) == 14
    errors = client.get(f"/batch/{job}/errors.csv").get_data(as_text=True)
    assert [row[0] for row in csv.reader(io.StringIO(errors))] == ["line", "5"]
    page = client.get(f"/batch/{job}").get_data(as_text=True)
    assert "the first 14 rows of the file (13 scored, 1 with errors)" in page
    assert "Download the rows scored so far" in page


def test_the_client_tells_a_passing_outage_from_other_failures(tmp_path):
    class Session:
        def __init__(self, outcome: Any) -> None:
            self.outcome = outcome

        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            if isinstance(self.outcome, Exception):
                raise self.outcome
            return self.outcome

    def response(status: int, body: bytes, headers: dict[str, str]) -> requests.Response:
        answer = requests.Response()
        answer.status_code, answer._content = status, body
        answer.headers.update(headers)
        return answer

    settings = Settings(jobs_dir=tmp_path, primary_key="k")
    gone = ScorerClient(settings, Session(requests.ConnectionError("refused")))  # type: ignore[arg-type]
    with pytest.raises(ScorerBusy, match="not answering"):
        gone.score([{}])
    proxy = ScorerClient(settings, Session(response(503, b"<html>", {"Retry-After": "3"})))  # type: ignore[arg-type]
    with pytest.raises(ScorerBusy) as busy:
        proxy.score([{}])
    assert busy.value.retry_after == 3.0
    scorer = ScorerClient(settings, Session(response(503, b'{"error": {"message": "late"}}', {})))  # type: ignore[arg-type]
    assert scorer.score([{}]).status == 503  # the batch job retries it; the form shows it
    broken = ScorerClient(settings, Session(response(500, b"", {})))  # type: ignore[arg-type]
    with pytest.raises(ScorerUnavailable) as failed:
        broken.score([{}])
    assert not isinstance(failed.value, ScorerBusy)


def test_a_date_field_gets_a_text_keyboard_and_is_sent_as_its_text():
    doc = json.loads(GOLDEN.read_text())
    props = doc["definitions"]["InputRecord"]["properties"]
    props["pdays"] = {"type": "string", "format": "date", "example": "2024-01-31"}
    fields = {f.name: f for f in form.fields_from_swagger(doc)}
    assert fields["pdays"].input_mode == "text"  # a phone's digit pad has no '-' or '/'
    values = {name: str(f.example) for name, f in fields.items()}
    values["pdays"] = "2024"  # a year alone: the scorer names it, not a number 2024 sent
    assert form.record_from_values(list(fields.values()), values)["pdays"] == "2024"


@pytest.mark.parametrize("where", ["a-file", "under-a-file"])
def test_a_jobs_folder_the_ui_cannot_create_names_the_variable(tmp_path, where):
    """The UI's start was a FileExistsError traceback."""
    a_file = tmp_path / "jobs"
    a_file.write_text("not a folder")
    jobs = a_file if where == "a-file" else a_file / "sub"
    with pytest.raises(SettingsError, match=r"^AMLSTACK_UI_JOBS_DIR=.* is not a folder the UI"):
        Settings(jobs_dir=jobs).make_jobs_dir()


def test_a_timeout_no_socket_can_wait_is_refused_naming_the_variable():
    """AMLSTACK_UI_TIMEOUT_S=99999999999999999999 started the UI, then every page that asks
    the scorer was a 500 (OverflowError: timestamp too large)."""
    with pytest.raises(SettingsError, match=r"^AMLSTACK_UI_TIMEOUT_S=99999999999999999999 must"):
        Settings.from_env({"AMLSTACK_UI_TIMEOUT_S": "99999999999999999999"})
    assert Settings.from_env({"AMLSTACK_UI_TIMEOUT_S": "3600"}).timeout_s == 3600


@pytest.mark.parametrize("url", ["http://", "http://a b:5001", "http://scorer:port", "https:///x"])
def test_a_scorer_url_without_a_host_is_refused_naming_the_variable(url):
    """They started the UI, whose every page then said the scorer was unavailable."""
    for name in ("AMLSTACK_UI_SCORER_URL", "AMLSTACK_UI_PROMETHEUS_URL"):
        with pytest.raises(SettingsError, match=f"^{name}=.* is not an http"):
            Settings.from_env({name: url})
    assert Settings.from_env({"AMLSTACK_UI_SCORER_URL": "http://proxy:5001/"}).scorer_url == (
        "http://proxy:5001"
    )


def test_a_chunk_is_never_larger_than_the_scorers_batch_limit(tmp_path, scorer):
    """AMLSTACK_UI_CHUNK_ROWS above AMLSTACK_MAX_BATCH: every chunk was refused as too large."""
    scorer.doc["definitions"]["ServiceInput"]["properties"]["data"]["maxItems"] = 3
    assert form.batch_limit(scorer.doc) == 3
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=7, max_upload_mb=1)
    client = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    response = client.post("/batch", data={"file": (io.BytesIO(_csv(8, ",")), "customers.csv")})
    status = _finish(client, response.headers["Location"])
    assert status == {**status, "state": "done", "rows_scored": 8}
    assert scorer.calls == [3, 3, 2]


def test_a_swagger_without_a_batch_limit_leaves_the_chunk_size_alone():
    assert form.batch_limit({"definitions": {}}) is None
    assert form.batch_limit({"definitions": {"ServiceInput": {"properties": {"data": []}}}}) is None
    assert form.batch_limit({"definitions": {"ServiceInput": ["not", "a", "schema"]}}) is None
    assert form.batch_limit({"components": ["not", "a", "mapping"]}) is None


def test_a_key_the_scorer_refuses_is_the_scorer_being_unavailable_not_a_form_error(tmp_path):
    """A wrong key showed "invalid key" above the form with a 422, as if the person's input
    were wrong; the model card said "the scorer answered 401". Both now say whose key it is."""
    swagger = GOLDEN.read_bytes()

    class Session:
        def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
            answer = requests.Response()
            answer.headers["Content-Type"] = "application/json"
            if url.endswith("/swagger.json"):
                answer.status_code, answer._content = 200, swagger
            else:
                answer.status_code, answer._content = 401, b'{"error": {"message": "invalid key"}}'
            return answer

    settings = Settings(jobs_dir=tmp_path / "jobs", primary_key="not-the-scorers-key")
    scorer = ScorerClient(settings, Session())  # type: ignore[arg-type]
    client = create_app(settings, client=scorer).test_client()
    expected = (
        "the scorer refused this UI&#39;s key (invalid key): AMLSTACK_PRIMARY_KEY does not "
        "hold a key the scorer accepts"
    )
    values = {f.name: f.default for f in form.fields_from_swagger(json.loads(swagger))}
    for response in (client.post("/score", data=values), client.get("/model")):
        page = response.get_data(as_text=True)
        assert response.status_code == 503 and "The scorer is not available" in page
        assert expected in page and 'class="form-error"' not in page
    response = client.post("/batch", data={"file": (io.BytesIO(_csv(3, ",")), "x.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed" and status["message"] == html.unescape(expected)


def test_a_deleted_job_says_so_in_words_with_a_way_back(client):
    """A link to a job deleted after its TTL was Flask's bare "Not Found" page (no navigation,
    no reason), and the progress script polled its 404 as "Waiting for the server" forever."""
    gone = "0" * 32
    for path in (f"/batch/{gone}", f"/batch/{gone}/scored.csv", f"/batch/{gone}/errors.csv"):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 404
        assert "a job and its files are deleted 1 hour after the upload" in page
        assert 'href="/batch"' in page and "Score one record" in page  # the way back
    status = client.get(f"/batch/{gone}/status")
    assert status.status_code == 404 and status.get_json()["state"] == "gone"
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "Not found" in page and "Try again" not in page


@pytest.mark.parametrize(
    ("number_format", "unit", "typed", "expected"),
    [
        ("decimal_comma", None, "1.5", "must be a number with a decimal comma, such as 17,5"),
        ("time", None, "half past", "must be a number written as a time of day, such as 07:30"),
        ("unit", "days", "5 kg", "must be a number in days, such as 5 days"),
        (None, None, "long", "must be a number"),
    ],
)  # fmt: skip
def test_a_number_field_refused_says_how_its_numbers_are_written(
    tmp_path, scorer, number_format, unit, typed, expected
):
    """'1.5' in a decimal-comma field was "must be a number", which it is; the error now says
    how training wrote the column, in the form and in a file's error report alike."""
    expected = f"duration {expected}"
    spec = scorer.doc["definitions"]["InputRecord"]["properties"]["duration"]
    spec.update({"x-number-format": number_format, "x-unit": unit})
    scorer.fields = form.fields_from_swagger(scorer.doc)
    client = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer).test_client()
    values = {f.name: f.default for f in scorer.fields}
    page = client.post("/score", data={**values, "duration": typed}).get_data(as_text=True)
    duration = next(f for f in scorer.fields if f.name == "duration")
    assert f'id="{duration.input_id}-error" role="alert">{html.escape(expected)}<' in page
    lines = _csv(2, ",").decode().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("duration")] = typed
    body = "\n".join([lines[0], ",".join(row)]).encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "x.csv")})
    assert _finish(client, response.headers["Location"])["rows_failed"] == 1
    job = response.headers["Location"].rsplit("/", 1)[-1]
    errors = client.get(f"/batch/{job}/errors.csv").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(errors)))[1] == ["2", "duration", expected]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("value is not a date (send ISO 8601: 2024-01-31)", "age must be a date, such as 2024-"),
        ("value is too large for a float32 number", "age is too large a number"),
        # what the scorer answers for the form's 1e400, which no float holds (sent as typed)
        ("expected a number or null, got the text '1e400'; it is too large for a float32 "
         "number", "age is too large a number"),
    ],
)  # fmt: skip
def test_the_scorers_date_and_overflow_errors_name_the_field(message, expected):
    assert form.friendly(message, "age").startswith(expected)


def test_a_field_without_a_training_range_shows_its_example_without_a_stray_separator(
    client, tmp_path
):
    """A date field's help read " · e.g. 27/08/2018": the separator of a range it has not."""
    page = client.get("/score").get_data(as_text=True)
    assert 'id="f0-age-help">Training range 18 to 86 · e.g. 52<' in page
    scorer = FakeScorer()
    props = scorer.doc["definitions"]["InputRecord"]["properties"]
    props["pdays"] = {"type": "string", "format": "date", "example": "27/08/2018"}
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    page = app.test_client().get("/score").get_data(as_text=True)
    assert re.search(r'id="f\d+-pdays-help">e\.g\. 27/08/2018<', page)


@pytest.mark.parametrize(
    ("header", "cell"),
    [
        # csv.Sniffer took this cell for a comma file: `amlstack predict` (and training) refused,
        # missing every column, the file the UI scored
        ("note", '"line {i}\nsay ""hi"", {i}"'),
        # the upload read the header's first physical line: one comma-cut column, "the file
        # has no column age, ...", where training and `amlstack predict` read every column
        ('"amount (EUR, incl.\nVAT)"', "{i}"),
    ],
    ids=["doubled-quotes-before-a-comma", "quoted-header-name-wraps"],
)
def test_a_semicolon_file_with_quoted_commas_is_read_as_amlstack_predict_reads_it(
    client, tmp_path, header, cell
):
    lines = _csv(4, ";").decode().splitlines()
    lines = [f"{header};{lines[0]}"] + [
        f"{cell.format(i=i)};{line}" for i, line in enumerate(lines[1:])
    ]
    body = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "quoted.csv"
    path.write_bytes(body)
    assert detect_delimiter(path) == ";"
    response = client.post("/batch", data={"file": (io.BytesIO(body), "quoted.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "done" and status["rows_scored"] == 4, status


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [("Amount, EUR;Qty\n12;3\n7;1\n", ";"), ('"x,y"|Amount, EUR\n"3,4"|1\n', "|"),
     ("a;b,c\n1,2\n", ",")],
    ids=["semicolon", "pipe-beside-a-quoted-comma", "comma"],
)  # fmt: skip
def test_a_tie_between_delimiters_in_the_header_goes_alike_to_every_reader(
    tmp_path, text, delimiter
):
    """`Amount, EUR;Qty`: training and predict (csv.Sniffer) read a semicolon file, the UI's
    upload and the scorer's text/csv (the header alone) a comma file, and refused it."""
    from amlstack.artifact import table

    path = tmp_path / "tie.csv"
    path.write_text(text)
    assert detect_delimiter(path) == delimiter  # training, amlstack predict
    assert batch._header(path, [])[0] == delimiter  # the UI's upload
    assert table.read_text(text, [])[2] == delimiter  # the scorer's text/csv


def test_a_header_longer_than_the_sample_keeps_its_scores_under_their_names(client):
    """The rows were read by a header judged from a 64 Ki sample, cut inside a quoted name
    after it: every row failed (two fields more than that header had) and the scored file's names
    stood two columns off its cells; `amlstack predict` scores such a file."""
    lines = _csv(3, ",").decode().splitlines()
    extra = [f"x{i:07d}" for i in range(7500)]  # 67,500 characters of names
    header = ",".join([lines[0], *extra, '"a\nb"', "after"])
    body = "\n".join(
        [header] + [",".join([line, *("0" for _ in extra), "ab", "af"]) for line in lines[1:]]
    )
    response = client.post("/batch", data={"file": (io.BytesIO(body.encode()), "wide.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "done" and status["rows_scored"] == 3, status
    job = response.headers["Location"].rsplit("/", 1)[-1]
    names, *rows = csv.reader(io.StringIO(client.get(f"/batch/{job}/scored.csv").text))
    assert names[-5:] == ["a\nb", "after", "probability", "label", "error"]
    assert all(len(row) == len(names) and row[-5:-3] == ["ab", "af"] for row in rows)


def test_a_file_naming_a_model_column_twice_is_refused_as_amlstack_predict_refuses_it(client):
    """The upload scored a row with the second cell of a column written twice (`amlstack
    predict` refuses the file: which one is meant?): every row silently had the wrong age."""
    lines = _csv(3, ",").decode().splitlines()
    body = ("\n".join([lines[0] + ",age"] + [line + ",99" for line in lines[1:]]) + "\n").encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "twice.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed" and status["rows_done"] == 0
    assert status["message"] == "column 'age' appears more than once in the header"
    extra = "\n".join([lines[0] + ",note,note"] + [line + ",a,b" for line in lines[1:]]) + "\n"
    response = client.post("/batch", data={"file": (io.BytesIO(extra.encode()), "notes.csv")})
    assert _finish(client, response.headers["Location"])["rows_scored"] == 3  # not a model column


def test_an_upload_starting_with_excels_sep_hint_says_so_as_amlstack_predict_does(client):
    """Line 1 `sep=;` (Excel's hint, which Excel hides) read as "the file has no column age,
    job, ..."; `amlstack predict` says what it is and what to do."""
    body = b"sep=;\n" + _csv(3, ";")
    response = client.post("/batch", data={"file": (io.BytesIO(body), "excel.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed"
    assert status["message"] == (
        "line 1 is Excel's 'sep=;' hint, not a header: delete that line (Excel hides it; "
        "other readers do not know it)"
    )


def test_a_reasons_feature_name_wraps_rather_than_being_cut(client):
    """Names in "Why" were cut with an ellipsis at 8rem: 'mean concave p…' and 'worst
    fractal di…' on a 55-column model, and names that differ at the end read alike. A browser
    (Chromium, the sweep's wide model) showed three cut names; now none (the rule wraps)."""
    css = client.get("/static/app.css").get_data(as_text=True)
    rule = re.search(r"^\.bar \.name \{([^}]*)\}", css, re.M)
    assert rule is not None
    assert "ellipsis" not in rule.group(1) and "nowrap" not in rule.group(1)
    assert "overflow-wrap: anywhere" in rule.group(1)


@pytest.mark.parametrize("status", [503, 429, 403, 404])
def test_a_busy_scorers_answer_is_not_shown_as_the_persons_mistake(
    client, scorer, monkeypatch, status
):
    """A 503 with a JSON error (the proxy's full queue, the request deadline), or a refusal of
    the UI itself, was shown as a form error with HTTP 422, as if the input were wrong; it is a
    503 that keeps the values."""
    busy = {"error": {"code": "overloaded", "message": "the scorer is at capacity; retry later"}}
    monkeypatch.setattr(scorer, "score", lambda records, explain=False: Answer(status, busy, 1.0))
    values = {f.name: str(f.example) for f in scorer.fields}
    response = client.post("/score", data={**values, "age": "33"})
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert (
        "The scorer could not score this just now (the scorer is at capacity; retry later). "
        "The values are kept: send them again." in page
    )
    assert 'id="f0-age" name="age" value="33"' in page


def test_an_upload_naming_a_column_in_another_case_gets_predicts_hint(client):
    """'AGE' for 'age': `amlstack predict` names the near miss, the upload listed the columns
    it lacked and left the person to spot the case."""
    lines = _csv(2, ",").decode().splitlines()
    body = ("\n".join([lines[0].replace("age", "AGE", 1), *lines[1:]]) + "\n").encode()
    response = client.post("/batch", data={"file": (io.BytesIO(body), "upper.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["message"] == (
        "the file has no column age (columns are read from line 1) (the header has 'AGE' for "
        "'age': names are matched exactly, case included)"
    )


@pytest.mark.parametrize(
    ("value", "singular", "plural"),
    [
        ("", "record", "records"),
        ("customer", "customer", "customers"),
        ("iris", "iris", "irises"),
        ("policy", "policy", "policies"),
        ("hotel booking", "hotel booking", "hotel bookings"),
        (" person / people ", "person", "people"),
        ("Übersetzung/Übersetzungen", "Übersetzung", "Übersetzungen"),
        # the 40-character limit is the word's, not the plural made of it; macOS's NFD
        ("b" * 39 + "x", "b" * 39 + "x", "b" * 39 + "xes"),
        ("e\u0301le\u0300ve", "\u00e9l\u00e8ve", "\u00e9l\u00e8ves"),
    ],
)
def test_the_subject_setting_gives_a_singular_and_a_plural(value, singular, plural):
    subject = Settings.from_env({"AMLSTACK_UI_SUBJECT": value}).subject
    assert (subject.singular, subject.plural) == (singular, plural)


@pytest.mark.parametrize("value", ["<b>x</b>", "a/b/c", "cust0mer", "a//", "x" * 41, "two  spaces"])
def test_a_subject_that_is_not_words_is_refused_naming_the_variable(value):
    with pytest.raises(SettingsError, match="AMLSTACK_UI_SUBJECT"):
        Settings.from_env({"AMLSTACK_UI_SUBJECT": value})


def test_the_pages_name_a_row_by_the_subject_setting_not_always_a_customer(tmp_path, scorer):
    """Every page said "customer" (a flower, a hotel booking); the word is the setting's, and
    the default names no kind of row."""
    settings = Settings(jobs_dir=tmp_path / "jobs")
    default = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    pages = [default.get(p).get_data(as_text=True) for p in ("/score", "/batch", "/no-such")]
    assert not any("customer" in page.lower() for page in pages)
    assert "Score one record" in pages[0] and "a CSV of records" in pages[1]
    bookings = Settings(
        jobs_dir=tmp_path / "jobs",
        subject=Settings.from_env({"AMLSTACK_UI_SUBJECT": "hotel booking"}).subject,
    )
    app = create_app(bookings, client=scorer).test_client()  # type: ignore[arg-type]
    page = app.get("/score").get_data(as_text=True)
    assert "<h1>Score one hotel booking</h1>" in page and "Hotel booking scoring" in page
    assert "Score this hotel booking" in page
    values = {f.name: str(f.example) for f in scorer.fields}
    page = app.post("/score", data=values).get_data(as_text=True)
    assert "against the average over training hotel bookings" in page
    assert "a CSV of hotel bookings" in app.get("/batch").get_data(as_text=True)


class ThreeClassScorer(FakeScorer):
    """A 3-class model (class names holding HTML and quotes): the predicted class is the second
    of the model's classes."""

    PROBABILITIES: ClassVar[dict[str, float]] = {"<b>low</b>": 0.15, 'mid "m"': 0.6, "high": 0.25}

    def __init__(self) -> None:
        super().__init__()
        output = self.doc["definitions"]["ServiceOutput"]["properties"]
        output["predictions"]["items"]["enum"] = list(self.PROBABILITIES)  # the model's order

    def card(self) -> dict[str, Any]:
        metrics = {"AUC": 0.9, "AUC_weighted": 0.91, "precision": 0.8, "log_loss": 0.3}
        classes = list(self.PROBABILITIES)
        return {"name": "levels", "version": "2", "threshold": None, "profile": {},
                "classes": classes, "metrics": metrics}  # fmt: skip

    def score(self, records: list[dict[str, Any]], *, explain: bool = False) -> Answer:
        answer = super().score(records, explain=explain)
        if answer.ok:
            answer.body["predictions"] = ['mid "m"' for _ in records]
            answer.body["probabilities"] = [dict(self.PROBABILITIES) for _ in records]
        return answer


def test_a_multi_class_answer_shows_every_classs_probability_most_likely_first(tmp_path):
    """A 3- or 4-class answer showed the predicted class's probability alone."""
    scorer = ThreeClassScorer()
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    values = {f.name: str(f.example) for f in scorer.fields}
    page = app.test_client().post("/score", data=values).get_data(as_text=True)
    table = page[page.index('id="class-probabilities"') : page.index("</table>")]
    rows = re.findall(
        r'<tr( class="predicted")?><th scope="row">(.*?)</th>.*?"value">(.*?)</td>', table
    )
    assert [(bool(mark), name.split(" <small>")[0], shown) for mark, name, shown in rows] == [
        (True, "mid &#34;m&#34;", "60.0%"),
        (False, "high", "25.0%"),
        (False, "&lt;b&gt;low&lt;/b&gt;", "15.0%"),
    ]
    assert "(predicted)" in rows[0][1] and "<b>" not in page
    # coloured as a two-class model's positive answer: no class here is the positive one
    assert '<div class="verdict" id="verdict">' in page


def test_a_multi_class_files_scores_have_amlstack_predicts_columns(tmp_path):
    """A multi-class upload came back with the predicted class's probability alone, where
    `amlstack predict` writes one probability column per class."""
    scorer = ThreeClassScorer()
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    client = app.test_client()
    response = client.post("/batch", data={"file": (io.BytesIO(_csv(5, ",", (3,))), "l.csv")})
    assert _finish(client, response.headers["Location"])["state"] == "done"
    job = response.headers["Location"].rsplit("/", 1)[-1]
    header, *rows = csv.reader(io.StringIO(client.get(f"/batch/{job}/scored.csv").text))
    classes = list(ThreeClassScorer.PROBABILITIES)
    assert header[-5:] == [*output_columns(classes), "error"]  # predict's, in the model's order
    assert rows[0][-5:] == ["0.150000", "0.600000", "0.250000", 'mid "m"', ""]
    assert rows[3][-5:] == ["", "", "", "", "duration must be a number"]
    page = client.get("/batch").text  # says which columns the file gets
    assert "<code>probability_&lt;b&gt;low&lt;/b&gt;</code>, <code>probability_mid" in page
    assert "<code>predicted_label</code> and <code>error</code> columns" in page


def test_a_model_whose_classes_change_during_a_job_fails_it_saying_so(tmp_path):
    """A multi-class job fixes its columns at the upload: a model with other classes rolled
    out while it ran failed the job as "internal error (KeyError)"."""

    class RenamedLater(ThreeClassScorer):
        calls = 0

        def score(self, records, *, explain=False):
            answer = super().score(records, explain=explain)
            RenamedLater.calls += 1
            if answer.ok and RenamedLater.calls > 1:
                answer.body["probabilities"] = [{"a": 0.2, "b": 0.3, "c": 0.5} for _ in records]
            return answer

    scorer = RenamedLater()
    settings = Settings(jobs_dir=tmp_path / "jobs", chunk_rows=2)
    client = create_app(settings, client=scorer).test_client()  # type: ignore[arg-type]
    response = client.post("/batch", data={"file": (io.BytesIO(_csv(5, ",")), "l.csv")})
    status = _finish(client, response.headers["Location"])
    assert status["state"] == "failed"
    assert status["message"].startswith("the model's classes changed while the file was scored")


def test_a_scored_file_keeps_the_uploads_own_column_names(client):
    """The scored file's header was the names the model's columns are matched by: a double
    quote in a name became ', an index column's empty name "Unnamed: 0" (amlstack predict
    writes the header as it was)."""
    lines = _csv(3, ",").decode().splitlines()
    body = "\n".join(
        [f',"say ""hi""",{lines[0]}'] + [f"{i},x,{line}" for i, line in enumerate(lines[1:])]
    )
    response = client.post("/batch", data={"file": (io.BytesIO(body.encode()), "ids.csv")})
    assert _finish(client, response.headers["Location"])["state"] == "done"
    job = response.headers["Location"].rsplit("/", 1)[-1]
    header, *rows = csv.reader(io.StringIO(client.get(f"/batch/{job}/scored.csv").text))
    assert header[:3] == ["", 'say "hi"', "age"] and header[-3:] == [
        "probability",
        "label",
        "error",
    ]
    assert len(rows) == 3 and rows[2][:2] == ["2", "x"] and rows[2][-3] == "0.700000"


def test_a_multi_class_cards_metrics_say_how_they_average_over_the_classes(tmp_path, scorer):
    """A multi-class card said "precision" and "AUC", which read as one class's figures; they
    are means over the classes (macro), and AUC weighted weighs each by its share."""
    three = ThreeClassScorer()
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=three)  # type: ignore[arg-type]
    page = app.test_client().get("/model").text
    names = re.findall(r'<th scope="row">(.*?)</th>', page)
    assert names == [
        "AUC (mean over the classes, each against the rest)",
        "AUC weighted (by each class&#39;s share of the rows)",
        "precision (mean over the classes)",
        "log loss",
    ]
    two = {**three.card(), "classes": ["no", "yes"]}
    three.card = lambda: two  # type: ignore[method-assign]
    page = app.test_client().get("/model").text
    assert re.findall(r'<th scope="row">(.*?)</th>', page) == [
        "AUC", "AUC weighted", "precision", "log loss"
    ]  # fmt: skip


@pytest.mark.parametrize("classes", [["2", "10"], ["0", "1", "2"]])
def test_a_model_with_numbers_for_labels_marks_its_predicted_class(tmp_path, classes):
    """The scorer answers such a model's label as a number (10) and its probabilities keyed by
    text ("10"): the predicted class was not marked, and a two-class model's positive answer
    was coloured as the negative one."""
    scorer = FakeScorer()

    def score(records: list[dict[str, Any]], *, explain: bool = False) -> Answer:
        probabilities = {
            c: (0.6 if c == classes[-1] else 0.4 / (len(classes) - 1)) for c in classes
        }
        body = {"predictions": [int(classes[-1])], "probabilities": [probabilities]}
        return Answer(200, {**body, "model": {"name": "n", "version": "1"}})

    scorer.score = score  # type: ignore[method-assign]
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    values = {f.name: str(f.example) for f in scorer.fields}
    page = app.test_client().post("/score", data=values).text
    if len(classes) == 2:
        assert '<div class="verdict yes" id="verdict">' in page
    else:
        assert f'<tr class="predicted"><th scope="row">{classes[-1]} <small>(predicted)' in page


def test_a_fields_help_text_sits_below_its_input_not_on_its_border(client):
    """Pico pulls "input + small" up by .75 of its spacing (it expects its own larger input
    margin), so "Training range 4.3 to 7.9" was drawn across the input's lower border: 9 px of
    overlap in Chromium; none with the rule's margin-top."""
    css = client.get("/static/app.css").get_data(as_text=True)
    rule = re.search(r"^\.field small \{([^}]*)\}", css, re.M)
    assert rule is not None and "margin-top: 0;" in rule.group(1)


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("done", "Done: 50,000 rows scored, 1,204 rows with errors."),
        ("running", "51,204 rows so far"),
    ],
)
def test_a_jobs_row_counts_have_thousands_separators(tmp_path, scorer, state, shown):
    """ "Done: 50000 rows scored" read as a code, beside the failed job's "50,000 rows"."""
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    job = "ab" * 16
    status = batch.Status(state=state, filename="big.csv", rows_done=51204, rows_scored=50000)
    (tmp_path / "jobs" / job).mkdir(parents=True)
    batch._write_status(tmp_path / "jobs" / job, replace(status, rows_failed=1204))
    assert shown in app.test_client().get(f"/batch/{job}").text


def test_a_report_plots_caption_writes_roc_as_an_acronym(tmp_path, scorer):
    """The card captioned roc.png "Roc" (Jinja's capitalize lowers the rest of the name)."""
    report = ["roc.png", "precision_recall.png", "confusion_matrix.png"]
    card = {**scorer.card(), "report": report}
    scorer.card = lambda: card  # type: ignore[method-assign]
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    page = app.test_client().get("/model").text
    assert re.findall(r"<figcaption>(.*?)</figcaption>", page) == [
        "ROC", "Precision recall", "Confusion matrix"
    ]  # fmt: skip
    assert 'alt="ROC plot"' in page


def test_a_multi_class_file_scored_again_gets_its_columns_replaced_not_repeated(tmp_path):
    """A class named with a double quote ('mid "m"') names the column probability_mid "m";
    the header of a file scored before is read with the quote as ' (header_names), so that
    column was not found and a second one was added (by amlstack predict too: one function)."""
    scorer = ThreeClassScorer()
    app = create_app(Settings(jobs_dir=tmp_path / "jobs"), client=scorer)  # type: ignore[arg-type]
    client = app.test_client()
    files = [_csv(3, ",")]
    for _ in range(2):
        response = client.post("/batch", data={"file": (io.BytesIO(files[-1]), "l.csv")})
        assert _finish(client, response.headers["Location"])["state"] == "done"
        job = response.headers["Location"].rsplit("/", 1)[-1]
        files.append(client.get(f"/batch/{job}/scored.csv").data)
    assert files[2] == files[1]
    header = next(csv.reader(io.StringIO(files[2].decode())))
    assert header[-5:] == [*output_columns(list(ThreeClassScorer.PROBABILITIES)), "error"]
