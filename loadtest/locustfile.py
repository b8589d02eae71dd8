"""Locust users that behave like real scoring clients, and a pass/fail verdict for headless runs.

Records are built once per process, when the test starts, from the served model's own
/swagger.json (its example record, then records varying each field over what training saw), so
the load fits whichever model the scorer serves; ``--data-file`` samples a CSV's rows instead
(only the model's columns are sent). Most requests score one record, some a batch, a few are
invalid on purpose for that model's schema and must be answered 400/422, a few carry a wrong key
and must be answered 401. Every response is checked, not just its status: a wrong answer is a
failure, an expected 4xx is a success. The checks live in workload.py (importable without Locust).

Thresholds (``--max-fail-ratio``, ``--max-p95-ms``, ``--max-p99-ms``) live in locust.conf; when
the run ends they decide the process exit code.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.runners import MasterRunner, WorkerRunner
from workload import (
    DEFAULT_KEY_FILE,
    Thresholds,
    Workload,
    check_error,
    check_scores,
    csv_workload,
    fetch_schema,
    invalid_request,
    resolve_key,
    schema_workload,
    verdict,
)

from amlstack.served_schema import SWAGGER_ROUTE

log = logging.getLogger("amlstack.loadtest")

SCORE_ROUTE = "/score"  # amlstack_scorer.contract.SCORING_ROUTE (the scorer is not installed here)


# -- command line ---------------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def add_arguments(parser) -> None:
    group = parser.add_argument_group("amlstack", "scorer workload and pass/fail thresholds")
    group.add_argument(
        "--max-fail-ratio",
        type=float,
        default=0.0,
        help="fail the run when failures/requests exceeds this",
    )
    group.add_argument(
        "--max-p95-ms",
        type=float,
        default=0.0,
        help="fail the run when the 95th percentile exceeds this (0 = off)",
    )
    group.add_argument(
        "--max-p99-ms",
        type=float,
        default=0.0,
        help="fail the run when the 99th percentile exceeds this (0 = off)",
    )
    group.add_argument("--batch-size", type=int, default=50, help="records in a batch request")
    group.add_argument(
        "--data-file",
        default="",
        help="CSV to sample records from (default: records built from the served model's schema)",
    )
    group.add_argument(
        "--key-file",
        default=os.environ.get("AMLSTACK_KEY_FILE", DEFAULT_KEY_FILE),
        help='JSON {"primaryKey": ...} written by the scorer',
    )
    group.add_argument("--sample-seed", type=int, default=42, help="seed of the record sample")


# -- the workload, prepared once per process when the test starts ------------------------------
@events.test_start.add_listener
def prepare_workload(environment, **_kwargs) -> None:
    if isinstance(environment.runner, MasterRunner):
        return  # the master sends nothing
    # Built again for every test: the stack may serve another model since the last one (a
    # rollout), while the Locust containers live on.
    _WORKLOADS.clear()
    try:
        _workload(environment)
    except (RuntimeError, ValueError, OSError) as exc:
        # The users try again (the scorer may still be loading) and report why as failures.
        log.warning("no workload yet: %s", exc)


_WORKLOADS: dict[tuple[str, str, int], Workload] = {}


def _workload(environment) -> Workload:
    """The records for the scorer at ``environment.host``, built on first use and shared."""
    opts = environment.parsed_options
    host = environment.host or ""
    cache_key = (host, opts.data_file, opts.sample_seed)
    if cache_key not in _WORKLOADS:
        doc = fetch_schema(host, resolve_key(os.environ, opts.key_file))
        if opts.data_file:
            workload = csv_workload(Path(opts.data_file), doc, seed=opts.sample_seed)
        else:
            workload = schema_workload(doc, seed=opts.sample_seed)
        _WORKLOADS[cache_key] = workload
    return _WORKLOADS[cache_key]


# -- verdict ------------------------------------------------------------------------------
@events.quitting.add_listener
def apply_verdict(environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master (or a local runner) judges the aggregated stats
    opts = environment.parsed_options
    thresholds = Thresholds(opts.max_fail_ratio, opts.max_p95_ms, opts.max_p99_ms)
    reasons = verdict(environment.stats.total, thresholds)
    for reason in reasons:
        log.error("loadtest FAILED: %s", reason)
    if reasons:
        environment.process_exit_code = 1
    else:
        log.info("loadtest passed: %s", thresholds)


# -- the user -------------------------------------------------------------------------------
class ScoringClient(FastHttpUser):
    """A client of the scorer: mostly single records, some batches, a few mistakes."""

    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.workload: Workload | None = None
        self.key = ""
        self.batch_size = max(1, opts.batch_size)
        self.rng = random.Random()

    def _ready(self) -> bool:
        """Whether the records and the key are there; else a failure saying why (shown in the
        web UI's Failures and the headless error report; the next task tries again, as the
        scorer may still be loading its model)."""
        if self.workload is not None:
            return True
        try:
            workload = _workload(self.environment)
            self.key = resolve_key(os.environ, self.environment.parsed_options.key_file)
        except (RuntimeError, ValueError, OSError) as exc:
            self.environment.events.request.fire(
                request_type="GET",
                name=f"{SWAGGER_ROUTE} [the served model's schema]",
                response_time=0,
                response_length=0,
                exception=exc,
                context={},
            )
            return False
        self.workload = workload
        self.records, self.classes = workload.records, workload.classes
        return True

    def _post(self, name: str, body: bytes, key: str):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        return self.client.post(
            SCORE_ROUTE, data=body, headers=headers, name=name, catch_response=True
        )

    def _score(self, records: list[dict[str, Any]], name: str) -> None:
        with self._post(name, json.dumps({"data": records}).encode(), self.key) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                return
            problem = check_scores(_json(resp), len(records), self.classes)
            if problem:
                resp.failure(problem)
            else:
                resp.success()

    def _expect_error(self, name: str, body: bytes, key: str, status: int) -> None:
        with self._post(name, body, key) as resp:
            problem = check_error(resp.status_code, _json(resp), status)
            if problem:
                resp.failure(problem)
            else:
                resp.success()  # the 4xx we asked for is the right answer

    @task(80)
    def score_one(self) -> None:
        if not self._ready():
            return
        self._score([self.rng.choice(self.records)], f"{SCORE_ROUTE} [1 record]")

    @task(10)
    def score_batch(self) -> None:
        if not self._ready():
            return
        batch = self.rng.sample(self.records, min(self.batch_size, len(self.records)))
        self._score(batch, f"{SCORE_ROUTE} [batch]")

    @task(5)
    def invalid(self) -> None:
        if not self._ready():
            return
        record = self.rng.choice(self.records)
        kind, body, status = invalid_request(self.rng, self.workload, record)
        self._expect_error(f"{SCORE_ROUTE} [invalid: {kind}]", body, self.key, status)

    @task(5)
    def wrong_key(self) -> None:
        if not self._ready():
            return
        body = json.dumps({"data": [self.rng.choice(self.records)]}).encode()
        wrong = "wrong-" + secrets.token_urlsafe(24)
        self._expect_error(f"{SCORE_ROUTE} [wrong key]", body, wrong, 401)


def _json(resp) -> Any:
    try:
        return resp.json()
    except (ValueError, TypeError):
        return None
