"""`amlstack.artifact.table`: its fast paths read every table as the csv module's path does.

The plain-text reader cuts cells with numpy and parses numeric columns as fixed-width JSON
blocks; with a pool it reads each column's two halves in two threads. Whatever the cells
(markers, blanks, numbers too wide for the block, unseen categories, a marker only in one half),
the matrix and the counts must equal those of the quoted path, which reads with ``csv.reader``.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amlstack.artifact import table
from amlstack.artifact.encoding import Feature
from amlstack.artifact.reader import PARALLEL_ROWS

CATEGORIES = ("red", "green", "a much longer category name", "")
FEATURES = [
    Feature("n1", "numeric"),
    Feature("colour", "categorical", "string", CATEGORIES[:3],
            codes={**{c: float(i) for i, c in enumerate(CATEGORIES[:3])}, None: math.nan}),
    Feature("n2", "numeric"),
]  # fmt: skip

NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["", "NA", "?", "null", " 12 ", "1e5", "-0", "0.1234567890123456789012345678"]),
)
COLOURS = st.sampled_from([*CATEGORIES, "blue", "NA", " red "])


def quoted(header: list[str], rows: list[list[str]]) -> str:
    lines = [",".join(f'"{cell}"' for cell in row) for row in [header, *rows]]
    return "\n".join(lines) + "\n"


def plain(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    return "\n".join(delimiter.join(row) for row in [header, *rows]) + "\n"


def encoded(text: str, pool=None):
    columns, rows, _ = table.read_text(text, FEATURES, pool)
    return table.encode_text_columns(FEATURES, columns), rows


def assert_same(got, want) -> None:
    (a, rows_a), (b, rows_b) = got, want
    assert rows_a == rows_b
    np.testing.assert_array_equal(a.matrix, b.matrix)  # NaN equals NaN here
    assert (a.unseen, a.missing) == (b.unseen, b.missing)


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(1) as executor:
        yield executor


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(st.tuples(NUMBERS, COLOURS, NUMBERS), min_size=1, max_size=6),
    odd=st.tuples(NUMBERS, COLOURS, NUMBERS),
    where=st.floats(0, 1),
)
def test_fast_paths_read_as_the_csv_module_does(pool, base, odd, where):
    """A table of PARALLEL_ROWS rows or more (so the pool is used) made of a few rows repeated,
    with one odd row at any place (e.g. a marker in one half of a column only)."""
    header = ["n1", "colour", "extra", "n2"]
    rows = [[a, b, "x", c] for a, b, c in base] * (PARALLEL_ROWS // len(base) + 1)
    rows.insert(int(where * len(rows)), [odd[0], odd[1], "x", odd[2]])
    want = encoded(quoted(header, rows))
    assert_same(encoded(plain(header, rows)), want)
    assert_same(encoded(plain(header, rows), pool), want)


def test_wide_numbers_and_commas_in_cells_leave_the_block_path():
    """A number longer than the fixed-width block, and (with ';') a cell holding a comma, are
    still read: the first as the number it is, the second as the error it is."""
    wide = "1" + "0" * table.NUMBER_WIDTH  # one digit more than a block row holds
    header = ["n1", "colour", "n2"]
    got, _ = encoded(plain(header, [["1", "red", wide], ["2.5", "green", "3"]]))
    np.testing.assert_array_equal(got.matrix[:, 2], np.float32([float(wide), 3.0]))
    with pytest.raises(table.TableError) as caught:
        encoded(plain(header, [["1,5", "red", "1"]], ";"))
    assert (caught.value.row, caught.value.column) == (1, "n1")


def test_a_decimal_comma_column_reads_its_numbers_and_names_a_cell_in_another_style():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    feat = Feature.from_spec(FeatureSpec(name="w", kind="numeric", number_format="decimal_comma"))
    read = parse_numbers(["17,5", "1.234,5", "22", "NA", " -0,25 "], feat)
    np.testing.assert_array_equal(read[[0, 1, 2, 4]], [17.5, 1234.5, 22.0, -0.25])
    assert np.isnan(read[3])
    with pytest.raises(TableError, match=r"data row 2, column 'w': '1.5' is not a number"):
        parse_numbers(["17,5", "1.5"], feat)


@pytest.mark.parametrize("sign", list("₹₩₽₺₪₫₱₴₦฿"))
def test_amounts_in_other_currencies_are_read_alike_by_training_and_scoring(tmp_path, sign):
    """₹1,23,456 or 5 ₽: such a column was dropped as an identifier, silently."""
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import parse_numbers
    from amlstack.training.data import load_dataset

    cells = [f"{sign}1,23,456", f"-{sign}5", f"7.50 {sign}", f"({sign}12)"]
    rows = "".join(f'"{cells[i % 4]}",{i % 7},{"yes" if i % 4 == 1 else "no"}\n' for i in range(40))
    path = tmp_path / "amounts.csv"
    path.write_text("price,n,y\n" + rows, encoding="utf-8")
    dataset = load_dataset(path, "y")
    spec = dataset.features[0]
    assert (spec["kind"], spec.get("format")) == ("numeric", "currency")
    values = dataset.frame["price"].to_numpy()[:4]
    np.testing.assert_array_equal(values, [123456.0, -5.0, 7.5, -12.0])
    feature = Feature.from_spec(FeatureSpec(name="p", kind="numeric", number_format="currency"))
    np.testing.assert_array_equal(parse_numbers(cells, feature), values)


def test_an_amount_column_reads_signs_commas_and_accountants_parentheses():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    feat = Feature.from_spec(FeatureSpec(name="price", kind="numeric", number_format="currency"))
    read = parse_numbers(["$1,126", "€126", "(132)", "-$5", "1,234.50 €", "7", ""], feat)
    np.testing.assert_array_equal(read[:6], [1126.0, 126.0, -132.0, -5.0, 1234.5, 7.0])
    assert np.isnan(read[6])
    for cell in ("(-5)", "$5€", "1,23", "five dollars"):
        with pytest.raises(TableError, match=r"data row 2, column 'price'"):
            parse_numbers(["$1", cell], feat)


@pytest.mark.parametrize(
    ("number_format", "cells", "expected", "refused"),
    [("decimal_comma_percent", ["60,3%", "1.234,5 %", "-0,5%", "12", "12,5"],
      [60.3, 1234.5, -0.5, 12.0, 12.5], ["12.5%", "5 €", "%"]),
     ("decimal_comma_currency", ["1.000,50 €", "€ 5,25", "-3,00 €", "€-3", "7"],
      [1000.5, 5.25, -3.0, -3.0, 7.0], ["1.5 €", "€5€", "-€-5", "5 %"])],
)  # fmt: skip
def test_a_decimal_comma_percent_or_amount_column_reads_as_training_wrote_it(
    number_format, cells, expected, refused
):
    """`60,3%` and `1.000,50 €`, as European exports write them, were categories (one format
    at a time: a percent sign, or a decimal comma); a form's `12,5` (no sign) reads too."""
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    feat = Feature.from_spec(FeatureSpec(name="t", kind="numeric", number_format=number_format))
    np.testing.assert_array_equal(parse_numbers(cells, feat), expected)
    for cell in refused:
        with pytest.raises(TableError, match=r"data row 2, column 't'"):
            parse_numbers(["1", cell], feat)


def test_a_time_column_reads_hours_since_midnight_and_names_anything_else():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.formats import show_time
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    feat = Feature.from_spec(FeatureSpec(name="at", kind="numeric", number_format="time"))
    read = parse_numbers(["07:30", "7:05 pm", "12:00 AM", "23:59:30", "24:00", ""], feat)
    np.testing.assert_allclose(read[:5], [7.5, 19 + 5 / 60, 0.0, 23 + 59.5 / 60, 24.0])
    assert np.isnan(read[5])
    assert [show_time(v) for v in read[:4]] == ["07:30", "19:05", "00:00", "23:59:30"]
    for cell in ("7.5", "25:00", "13:00 pm", "24:30", "7:5", "noon"):
        with pytest.raises(TableError, match=r"data row 2, column 'at'"):
            parse_numbers(["07:30", cell], feat)


def test_a_word_training_read_as_missing_is_missing_and_no_other_is():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    spec = FeatureSpec(name="grade", kind="numeric", nullable=True, missing_words=["other"])
    feat = Feature.from_spec(spec)
    read = parse_numbers(["9", " OTHER ", "12"], feat)
    assert read[0] == 9.0 and np.isnan(read[1]) and read[2] == 12.0
    with pytest.raises(TableError, match=r"data row 2, column 'grade': 'unknown' is not a number"):
        parse_numbers(["9", "unknown"], feat)


def test_an_infinity_training_read_as_missing_is_missing_and_else_no_number():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    spec = FeatureSpec(name="ratio", kind="numeric", nullable=True, missing_words=["inf"])
    read = parse_numbers(["0.5", "INF", "-0"], Feature.from_spec(spec))
    assert read[0] == 0.5 and np.isnan(read[1]) and read[2] == 0.0
    plain = Feature.from_spec(FeatureSpec(name="ratio", kind="numeric"))
    for cell in ("-Infinity", "+inf", "$inf"):  # never an infinite input to the model
        with pytest.raises(TableError, match=r"data row 2, column 'ratio': '.*' is not a number"):
            parse_numbers(["1", cell], plain)


def test_a_thousands_column_refuses_commas_that_group_no_thousands():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    feat = Feature.from_spec(FeatureSpec(name="amount", kind="numeric", number_format="thousands"))
    np.testing.assert_array_equal(
        parse_numbers(["1,234.5", "12", "-1,000"], feat), [1234.5, 12, -1000]
    )
    for cell in ("1.234,5", "1,23", "0,125"):
        with pytest.raises(
            TableError, match=rf"column 'amount': '{re.escape(cell)}' is not a number"
        ):
            parse_numbers(["1", cell], feat)


def test_an_iso_date_or_a_date_time_is_read_in_a_day_first_column_and_junk_is_refused():
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.formats import parse_date
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, encode_text_columns

    assert parse_date("2021-01-31", "%d/%m/%Y") == parse_date("31/01/2021", "%d/%m/%Y")
    assert parse_date("31/01/2021 12:00", "%d/%m/%Y") == parse_date("31/01/2021", "%d/%m/%Y") + 0.5
    with pytest.raises(ValueError):
        parse_date("32/01/2021", "%d/%m/%Y")
    spec = FeatureSpec(name="called", kind="date", dtype="date", date_format="%d/%m/%Y")
    features = [Feature.from_spec(spec)]
    read = encode_text_columns(features, {"called": ["31/01/2021", " NA ", ""]}).matrix[:, 0]
    assert read[0] == parse_date("31/01/2021", "%d/%m/%Y") and np.isnan(read[1:]).all()
    message = r"data row 3, column 'called': '32/01/2021' is not a date \(written like '31/01/2024'"
    with pytest.raises(TableError, match=message):
        encode_text_columns(features, {"called": ["31/01/2021", "", "32/01/2021"]})


@pytest.mark.parametrize("cell", ["", " ", "."], ids=["empty", "blank", "sas"])
def test_one_row_whose_number_is_missing_is_read_as_missing(cell):
    """A lone empty cell read as the JSON list `[ ]`: no number at all, not one missing one."""
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import encode_text_columns, parse_numbers, read_text

    feat = Feature.from_spec(FeatureSpec(name="age", kind="numeric", nullable=True))
    job = Feature.from_spec(FeatureSpec(name="job", kind="categorical", categories=["admin"]))
    assert np.isnan(parse_numbers([cell], feat)).all()
    columns, rows, _ = read_text(f"age,job\n{cell},admin\n", [feat, job])
    assert rows == 1
    assert np.isnan(encode_text_columns([feat, job], columns).matrix[0, 0])


def test_a_table_whose_first_model_column_is_categorical_is_read():
    """The column arrives already encoded (`Codes`): its length was taken for the row count."""
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import encode_text_columns, read_text

    job = Feature.from_spec(FeatureSpec(name="job", kind="categorical", categories=["a", "b"]))
    age = Feature.from_spec(FeatureSpec(name="age", kind="numeric"))
    columns, rows, _ = read_text("job,age\nb,41\nzz,7\n", [job, age])
    batch = encode_text_columns([job, age], columns)
    assert rows == 2 and batch.matrix.tolist() == [[1.0, 41.0], [-1.0, 7.0]]
    assert batch.unseen == {"job": 1}


@pytest.mark.parametrize("quote", ["", '"'], ids=["plain", "quoted"])
def test_a_category_in_another_case_or_another_yes_no_word_is_read_from_a_cell(quote):
    """As a JSON value is (test_encoders): `yes`, ` Y ` or `True` in a TRUE/FALSE column is
    TRUE, `false` is FALSE; `1` stays an unseen category."""
    from amlstack.artifact.schema import FeatureSpec

    spec = FeatureSpec(name="smoker", kind="categorical", categories=["FALSE", "TRUE"])
    smoker, age = Feature.from_spec(spec), Feature("age", "numeric")
    cells = ["TRUE", "yes", " Y ", "True", "false", "1"]
    text = "smoker,age\n" + "".join(f"{quote}{c}{quote},7\n" for c in cells)
    columns, rows, _ = table.read_text(text, [smoker, age])
    batch = table.encode_text_columns([smoker, age], columns)
    assert rows == 6 and batch.matrix[:, 0].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, -1.0]
    assert batch.unseen == {"smoker": 1}


def test_a_header_in_another_case_is_hinted_unless_two_features_are_alike():
    from amlstack.artifact.table import TableError, positions

    with pytest.raises(TableError, match=r"the header has 'AGE' for 'age'"):
        positions([Feature("age", "numeric")], ["AGE", "x"])
    # 'Age' and 'age' both features: which one 'AGE' means is a guess, so no hint
    with pytest.raises(TableError) as refused:
        positions([Feature("Age", "numeric"), Feature("age", "numeric")], ["Age", "AGE"])
    assert str(refused.value) == "missing column(s) the model needs: age"


@pytest.mark.parametrize(
    "header",
    ['n1;"colour (red, green, ...)";n2', 'n1;"colour\n(red, green)";n2', 'n1;colour 15" x, y;n2'],
)
def test_the_delimiter_is_the_one_between_the_headers_names(header):
    """A comma inside a quoted name (or a name with a quote in it) outvoted the semicolons: the
    text/csv body and `amlstack predict` read one column."""
    columns, rows, delimiter = table.read_text(header + "\n1;2;3\n4;5;6\n", FEATURES[:1])
    assert (delimiter, rows) == (";", 2)
    assert list(columns["n1"]) == ["1", "4"]
