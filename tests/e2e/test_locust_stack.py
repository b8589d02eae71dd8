"""The Locust containers: web UI, workers, and a bounded headless run with a verdict."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e

HEADLESS = ("--headless", "--host", "http://proxy:5001", "--users", "6", "--spawn-rate", "3")


def test_locust_web_ui_answers_and_has_a_worker(stack):
    page = requests.get(f"{stack.locust}/", timeout=10)
    assert page.status_code == 200
    assert "locust" in page.text.lower()
    stats = requests.get(f"{stack.locust}/stats/requests", timeout=10).json()
    assert stats["worker_count"] >= 1


def _worker_count(stack) -> int:
    return requests.get(f"{stack.locust}/stats/requests", timeout=10).json()["worker_count"]


def test_scaling_adds_load_generators(stack):
    try:
        stack.compose("up", "-d", "--no-recreate", "--scale", "locust-worker=2", timeout=300)
        deadline = time.monotonic() + 90
        while _worker_count(stack) != 2 and time.monotonic() < deadline:
            time.sleep(2)
        assert _worker_count(stack) == 2
    finally:
        stack.compose("up", "-d", "--no-recreate", "--scale", "locust-worker=1", timeout=300)


def test_a_swarm_started_from_the_web_ui_scores_through_the_workers(stack):
    # What a person does in the browser: start a swarm on the master; its workers send the load.
    web = stack.locust
    started = requests.post(
        f"{web}/swarm",
        data={"user_count": 4, "spawn_rate": 4, "host": "http://proxy:5001"},
        timeout=10,
    )
    assert started.json()["success"], started.text
    try:
        deadline = time.monotonic() + 60
        total = {}
        while time.monotonic() < deadline:
            stats = requests.get(f"{web}/stats/requests", timeout=10).json()
            total = next(s for s in stats["stats"] if s["name"] == "Aggregated")
            if total["num_requests"] >= 30:
                break
            time.sleep(2)
        assert total["num_requests"] >= 30, stats
        assert total["num_failures"] == 0, stats.get("errors")
    finally:
        requests.get(f"{web}/stop", timeout=10)
        requests.get(f"{web}/stats/reset", timeout=10)


def test_headless_run_across_the_network_passes_its_thresholds(stack):
    run = stack.compose(
        "run", "--rm", "--no-deps", "locust-master", *HEADLESS,
        "--run-time", "20s", "--max-fail-ratio", "0", "--csv", "/tmp/locust",
        timeout=180, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "loadtest passed" in output
    assert "/score [1 record]" in output and "/score [wrong key]" in output


def test_headless_run_fails_when_a_threshold_is_passed(stack):
    # No real request answers within a microsecond: the verdict must turn the exit code to 1.
    run = stack.compose(
        "run", "--rm", "--no-deps", "locust-master", *HEADLESS,
        "--run-time", "5s", "--max-p95-ms", "0.001",
        timeout=120, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-6000:]
    assert "loadtest FAILED: p95" in output
