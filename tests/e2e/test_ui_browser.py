"""The UI in a real browser (Playwright driving Debian's Chromium) against the running stack.

Screenshots of every page go to AMLSTACK_TEST_ARTIFACTS (default build/test-artifacts/ui).
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = Path(os.environ.get("AMLSTACK_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "ui"
DATA = ROOT / "data" / "bankmarketing_train.csv"
LOCUST_RUN = ("--headless", "--host", "http://scorer:5001", "--users", "6", "--spawn-rate", "6")


@pytest.fixture(scope="module")
def page():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed (the dev extra needs it)")
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium package (/usr/bin/chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _rows(n: int, delimiter: str = ";") -> tuple[str, list[dict[str, str]]]:
    with DATA.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(n), reader, strict=False)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue(), rows


def test_the_form_scores_a_customer_and_explains_why(stack, page):
    page.goto(f"{stack.ui}/score")
    # Generated from the schema: a dropdown for a categorical field, a number field with its range.
    assert page.get_by_label("job", exact=True).evaluate("e => e.tagName") == "SELECT"
    age = page.get_by_label("age", exact=True).get_attribute("id")
    assert "Training range" in page.locator(f"#{age}-help").inner_text()
    page.get_by_label("age", exact=True).fill("41")
    page.get_by_label("job", exact=True).select_option("technician")
    page.get_by_role("button", name="Score this customer").click()
    label = page.locator("#predicted-label").inner_text()
    assert label in ("yes", "no")
    assert page.locator("#probability").inner_text().endswith("%")
    assert page.locator("#threshold").inner_text().endswith("%")
    bars = page.locator("#explanation .bar")
    assert bars.count() >= 2
    shot(page, "score-result")


def test_an_empty_value_is_imputed_and_an_overflowing_one_shows_the_scorers_field_error(
    stack, page
):
    page.goto(f"{stack.ui}/score")
    # The default model imputes missing values, so an empty field is scored, not refused.
    page.get_by_label("age", exact=True).fill("")
    page.get_by_role("button", name="Score this customer").click()
    assert page.locator("#predicted-label").inner_text() in ("yes", "no")
    age = page.get_by_label("age", exact=True).get_attribute("id")
    assert page.locator(f"#{age}-error").count() == 0
    shot(page, "score-empty-field")
    page.get_by_label("age", exact=True).fill("41")
    page.get_by_label("duration", exact=True).fill("1e39")
    page.get_by_role("button", name="Score this customer").click()
    duration = page.get_by_label("duration", exact=True).get_attribute("id")
    assert "too large" in page.locator(f"#{duration}-error").inner_text()
    assert page.get_by_label("duration", exact=True).get_attribute("aria-invalid") == "true"
    shot(page, "score-out-of-range")


def test_a_csv_is_scored_and_downloaded_with_a_row_error_report(stack, page, tmp_path):
    text, rows = _rows(40)
    lines = text.splitlines()
    bad = lines[3].split(";")
    bad[0] = "not-a-number"  # age on data line 3 (file line 4)
    lines[3] = ";".join(bad)
    upload = tmp_path / "customers.csv"
    upload.write_text("\n".join(lines) + "\n")
    page.goto(f"{stack.ui}/batch")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Score the file").click()
    page.locator("#download").wait_for(timeout=60_000)
    assert "39 rows scored, 1 row with errors" in page.locator("#job-state").inner_text()
    assert "age must be a number" in page.locator("#row-errors").inner_text()  # in words
    shot(page, "batch-done")
    with page.expect_download() as info:
        page.locator("#download").click()
    scored = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text()), delimiter=";"))
    assert len(scored) == len(rows)
    assert [r["y"] for r in scored] == [r["y"] for r in rows]  # the target column is kept
    assert scored[2]["error"] and not scored[2]["probability"]
    good = [r for i, r in enumerate(scored) if i != 2]
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in good)
    assert all(r["label"] in ("yes", "no") and not r["error"] for r in good)


def test_the_model_card_shows_metrics_and_the_reports_plots(stack, page):
    page.goto(f"{stack.ui}/model")
    assert page.locator("#card-metrics tr").count() >= 3
    assert "Created" in page.locator("#card-model").inner_text()
    images = page.locator(".plots img")
    assert images.count() >= 3
    images.first.scroll_into_view_if_needed()
    loaded = "[...document.querySelectorAll('.plots img')].every(i => i.naturalWidth > 0)"
    page.wait_for_function(f"() => {loaded}")
    shot(page, "model-card")


def _prometheus(stack, promql: str) -> list[dict]:
    body = requests.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    return body.json()["data"]["result"]


def test_insights_shows_the_load_of_a_locust_run_from_prometheus(stack, page):
    # The load is the means here, not the subject (test_locust_stack judges Locust's verdict).
    run = stack.compose(
        "run", "--rm", "--no-deps", "locust-master", *LOCUST_RUN, "--run-time", "30s",
        timeout=180, check=False,
    )  # fmt: skip
    targets = _prometheus(stack, 'up{job="scorer"}')
    assert targets and all(t["value"][1] == "1" for t in targets), targets
    deadline = time.monotonic() + 60
    while not _prometheus(stack, 'sum(rate(amlstack_requests_total{route="/score"}[1m])) > 0'):
        assert time.monotonic() < deadline, (run.stdout + run.stderr)[-4000:]
        time.sleep(3)  # a scrape or two after the run
    page.goto(f"{stack.ui}/insights")
    assert float(page.locator("#stat-rps").inner_text()) > 0
    assert float(page.locator("#stat-p95").inner_text()) > 0
    assert "up" in page.locator("#targets").inner_text()
    assert page.locator("#drift tbody tr").count() >= 5
    page.wait_for_timeout(500)  # the charts draw after load
    shot(page, "insights")


def test_a_link_to_a_deleted_job_says_so_and_leads_back_by_keyboard(stack, page):
    """A job's link outlives the job (deleted after AMLSTACK_UI_JOB_TTL_S): it was Flask's bare
    "Not Found" page, with no reason and no way back."""
    response = page.goto(f"{stack.ui}/batch/{'0' * 32}")
    assert response is not None and response.status == 404
    assert "deleted" in page.locator("main").inner_text()
    shot(page, "job-deleted")
    link = page.get_by_role("button", name="Score a file")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stack.ui}/batch")
    assert page.get_by_label("CSV file").count() == 1


def test_after_a_refused_value_the_keyboard_is_on_that_field(stack, page):
    """Keyboard only: Enter submits, and the refused field has the focus (it was <body>), so
    the fix is typed and sent at once."""
    page.goto(f"{stack.ui}/score")
    duration = page.get_by_label("duration", exact=True)
    duration.fill("long")
    duration.press("Enter")
    page.locator("small.error").wait_for()
    focused = page.evaluate("document.activeElement.id")
    assert focused == duration.get_attribute("id")
    page.keyboard.press("Control+A")
    page.keyboard.type("371")
    page.keyboard.press("Enter")
    page.locator("#predicted-label").wait_for()
    assert page.locator("small.error").count() == 0
