"""``POST /score`` with ``text/csv``: the same answers as JSON records, column-wise, CSV back."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from scorer_support import make_settings
from test_routes import assert_error

from amlstack.artifact import table
from amlstack.artifact.reader import Model
from amlstack.artifact.scored import output_columns
from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app

CSV = {"Content-Type": "text/csv"}


def to_csv(records: list[dict], columns: list[str], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, columns, delimiter=delimiter, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def score_csv(client, auth, text: str, **kw):
    return client.post(c.SCORING_ROUTE, data=text.encode(), headers={**auth, **CSV}, **kw)


def read_answer(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    delimiter = table.header_delimiter(text)
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_answers_equal_json_answers(client, auth, model, sample, delimiter):
    records = sample[:5]
    columns = [*model.feature_names, "y"]  # an extra column (the target) is ignored
    text = to_csv([{**r, "y": "no"} for r in records], columns, delimiter)
    resp = score_csv(client, auth, text)
    rows = read_answer(resp)
    classes = [str(k) for k in model.classes]
    assert rows[0] == [f"probability_{k}" for k in classes] + ["predicted_label"]
    scored = client.post(c.SCORING_ROUTE, json={"data": records}, headers=auth).get_json()
    for row, p, label in zip(rows[1:], scored["probabilities"], scored["predictions"], strict=True):
        assert [float(v) for v in row[:-1]] == [p[k] for k in classes]  # exactly: same floats
        assert row[-1] == str(label)
    assert resp.headers[c.MODEL_VERSION_HEADER] == model.version
    assert resp.headers[c.MODEL_NAME_HEADER] == model.name
    if len(classes) == 2:
        assert float(resp.headers[c.THRESHOLD_HEADER]) == scored["threshold"]
    assert resp.headers["X-Request-ID"]


def test_a_byte_order_mark_and_utf8_cells_read_as_plain_text(client, auth, model, sample):
    """A UTF-8 body that starts with a byte order mark (as spreadsheet exports write) and holds
    non-ASCII cells (an unseen category) is answered as the same body without the mark."""
    records = sample[:3]
    categorical = next(f.name for f in model.features if f.kind == "categorical")
    records = [records[0], {**records[1], categorical: "caf\u00e9 \u00fcber"}, records[2]]
    text = to_csv(records, model.feature_names)
    plain = read_answer(score_csv(client, auth, text))
    resp = client.post(
        c.SCORING_ROUTE, data=b"\xef\xbb\xbf" + text.encode(), headers={**auth, **CSV}
    )
    assert read_answer(resp) == plain


def test_quoted_fields_crlf_and_missing_markers_read_as_predict_reads_them(client, auth, model):
    """The csv-module path (quotes) and the fast path give the same answer; markers impute."""
    records = model.sample_input()[:4]
    plain = to_csv(records, model.feature_names)
    quoted = io.StringIO()
    writer = csv.DictWriter(quoted, model.feature_names, quoting=csv.QUOTE_ALL)
    writer.writeheader()  # CRLF line ends
    writer.writerows(records)
    assert read_answer(score_csv(client, auth, plain)) == read_answer(
        score_csv(client, auth, quoted.getvalue())
    )
    if not model.imputes_missing:
        pytest.skip("this artifact refuses missing values")
    header, *rows = list(csv.reader(io.StringIO(plain)))
    rows[0] = ["NA" if i % 2 else f"  {v} " for i, v in enumerate(rows[0])]
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    assert read_answer(score_csv(client, auth, text))[1]  # scored, not refused


def test_text_columns_encode_like_the_json_encoder(model, sample):
    """The CSV reader (both paths) and the /score JSON encoder give the same matrix."""
    records = sample[:6]
    text = to_csv(records, model.feature_names)
    columns, rows, delimiter = table.read_text(text, model.features)
    assert (rows, delimiter) == (len(records), ",")
    fast = table.encode_text_columns(model.features, columns).matrix
    quoted = to_csv(records, model.feature_names).replace(",", '","')
    quoted = "\n".join(f'"{line}"' for line in quoted.splitlines())
    columns, _, _ = table.read_text(quoted, model.features)
    slow = table.encode_text_columns(model.features, columns).matrix
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast, model.encode_records(records))


def test_a_missing_column_is_422_naming_it(client, auth, model, sample):
    dropped = model.feature_names[1]
    columns = [n for n in model.feature_names if n != dropped]
    error = assert_error(
        score_csv(client, auth, to_csv(sample[:2], columns)), 422, "invalid_input", dropped
    )
    assert dropped in error["message"]


def test_a_column_named_in_another_case_is_422_naming_both(client, auth, model, sample):
    """As a JSON key in another case is (test_routes): the hint names the header's spelling."""
    name = model.feature_names[1]
    text = to_csv(sample[:2], model.feature_names).replace(name, name.upper(), 1)
    error = assert_error(score_csv(client, auth, text), 422, "invalid_input", name)
    assert f"the header has {name.upper()!r} for {name!r}" in error["message"]


@pytest.mark.parametrize(
    ("cell", "record", "named"),
    [("lots", 1, ("line 3", "'lots'")), ("1e39", 0, ("line 2",))],  # not a number; too large
)
def test_a_bad_number_is_422_naming_line_and_column(
    client, auth, model, sample, cell, record, named
):
    numeric = next(f.name for f in model.features if f.kind == "numeric")
    records = [dict(r) for r in sample[:3]]
    records[record][numeric] = cell
    error = assert_error(
        score_csv(client, auth, to_csv(records, model.feature_names)), 422, "invalid_input", numeric
    )
    assert all(part in error["message"] for part in named)


def test_blank_lines_are_skipped_and_ragged_rows_still_named(model, sample):
    """Blank lines (found only when a row looks ragged) are skipped as csv.reader skips them;
    a row really ragged is named by its data row, blank lines not counted."""
    records = sample[:4]
    lines = to_csv(records, model.feature_names).splitlines()
    plain = table.encode_text_columns(
        model.features, table.read_text("\n".join(lines), model.features)[0]
    ).matrix
    blanks = "\n\n" + "\n\n".join(lines[:2]) + "\n\n\n" + "\n".join(lines[2:]) + "\n\n"
    columns, rows, _ = table.read_text(blanks, model.features)
    assert rows == len(records)
    np.testing.assert_array_equal(table.encode_text_columns(model.features, columns).matrix, plain)
    ragged = blanks.replace(lines[3], lines[3] + ",extra")
    with pytest.raises(table.LayoutError) as caught:
        table.read_text(ragged, model.features)
    assert caught.value.row == 3
    one = [model.features[0]]  # one column: a blank line would be an empty cell, so skipped first
    cells = [line.split(",")[0] for line in lines]
    blanks = f"{cells[0]}\n\n{cells[1]}\n\n\n{cells[2]}\n"
    columns, rows, _ = table.read_text(blanks, one)
    assert rows == 2
    expected = table.read_text("\n".join(cells[:3]), one)[0]
    np.testing.assert_array_equal(
        table.encode_text_columns(one, columns).matrix,
        table.encode_text_columns(one, expected).matrix,
    )


def test_ragged_rows_undecodable_and_empty_bodies_are_400(client, auth, model, sample):
    text = to_csv(sample[:3], model.feature_names).splitlines()
    text[2] += ",extra"
    error = assert_error(score_csv(client, auth, "\n".join(text)), 400, "bad_request")
    assert "line 3" in error["message"]
    resp = client.post(c.SCORING_ROUTE, data=b"\xff\xfe,\x00", headers={**auth, **CSV})
    assert_error(resp, 400, "bad_request")
    assert_error(score_csv(client, auth, ""), 400, "bad_request")
    header_only = to_csv([], model.feature_names)
    assert_error(score_csv(client, auth, header_only), 422, "invalid_input")


def test_batch_and_body_limits_apply(auth, model, sample):
    client = create_app(make_settings(max_batch=3, max_body_bytes=4096), model).test_client()
    text = to_csv((sample * 4)[:4], model.feature_names)
    error = assert_error(score_csv(client, auth, text), 422, "invalid_input")
    assert "at most 3" in error["message"]
    big = to_csv((sample * 100)[:3], model.feature_names) + "x" * 5000
    assert_error(score_csv(client, auth, big), 413, "payload_too_large")


def test_explain_is_refused_for_csv(client, auth, model, sample):
    text = to_csv(sample[:1], model.feature_names)
    resp = score_csv(client, auth, text, query_string={"explain": "true"})
    assert_error(resp, 422, "invalid_input", "explain")


def test_csv_needs_the_key_and_a_utf8_charset(client, auth, model, sample):
    text = to_csv(sample[:1], model.feature_names)
    assert_error(client.post(c.SCORING_ROUTE, data=text, headers=CSV), 401, "unauthorized")
    resp = client.post(
        c.SCORING_ROUTE, data=text, headers={**auth, "Content-Type": "text/csv; charset=latin-1"}
    )
    assert_error(resp, 415, "unsupported_media_type")


def test_csv_requests_are_counted_like_json(client, auth, model, sample):
    text = to_csv(sample[:4], model.feature_names)
    assert score_csv(client, auth, text).status_code == 200
    metrics = client.get(c.METRICS_ROUTE, headers=auth).get_data(as_text=True)
    assert 'route="/score"' in metrics
    assert any(
        line.startswith("amlstack_predictions_total") and not line.endswith(" 0.0")
        for line in metrics.splitlines()
    ), metrics


def test_many_rows_are_scored_in_order(client, auth, model, sample):
    records = (sample * 50)[:50]
    rows = read_answer(score_csv(client, auth, to_csv(records, model.feature_names)))
    matrix = model.encode_records(records)
    proba = model.predict_proba(matrix)
    np.testing.assert_array_equal(
        np.array([[float(v) for v in r[:-1]] for r in rows[1:]], dtype=np.float32), proba
    )


def test_predict_and_the_scorer_share_the_cell_reader():
    """One owner: `amlstack predict` calls the artifact package's reader, not its own."""
    import amlstack.predict as predict

    assert not hasattr(predict, "parse_numbers")
    assert predict.encode_text_rows is table.encode_text_rows
    assert predict.output_columns.__doc__ and output_columns(["a"]) == [
        "probability_a",
        "predicted_label",
    ]


def test_golden_model_reads_semicolon_csv_with_unseen_categories(golden_artifact, auth):
    model = Model(golden_artifact)
    client = create_app(make_settings(), model).test_client()
    records = [dict(r) for r in model.sample_input()[:2]]
    categorical = next(f.name for f in model.features if f.kind == "categorical")
    records[0][categorical] = "never-seen-in-training"
    rows = read_answer(score_csv(client, auth, to_csv(records, model.feature_names, ";")))
    assert len(rows) == 3
