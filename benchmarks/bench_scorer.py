"""Benchmark the scorer against a bare Flask+gunicorn app on the same machine, one after the other.

Each server runs under gunicorn on 127.0.0.1 with the same worker settings; wrk drives it with
single-record POSTs (a Lua script sets method, body and headers). Reported per server: start-up
to ready, throughput, p50 and p99 latency at N connections, and the median of sequential
1,000-record requests. Every run is bounded in time and count.

For each amlstack variant two more comparisons run on the same server, after the table's:
- one-record V2 infer (``POST /v2/models/<name>/infer``, the JSON tensor form: one input per
  feature, shape [1], the same record as the one-record /score body) with wrk, as /score was
  measured: req/s, p50, p99 and V2's ratio to /score (target: V2 latency within 1.2x);
- one 100,000-row request as ``text/csv`` against the same rows as JSON records
  (``{"data": [...]}``), alternating, the median of --bulk-count each after one warm-up of each;
  the speed-up (target: CSV at least 3x faster), and a check that both answers agree. The rows are
  resampled (seeded) from data/bankmarketing_train.csv when it holds the model's features, else
  the artifact's sample records repeated. For these, the benchmark's scorer gets
  AMLSTACK_MAX_BATCH (the bulk row count; default 10,000), AMLSTACK_MAX_BODY_BYTES (the JSON
  body plus 1 MiB; default 16 MiB) and AMLSTACK_TIMEOUT=120 (default 30 s); nothing else changes.

    python benchmarks/bench_scorer.py --model artifacts/bankmarketing/1 --duration 10
    python benchmarks/bench_scorer.py --variants sync:2:1,gthread:2:4   # choose a worker model
    python benchmarks/bench_scorer.py --bulk-rows 100000 --bulk-count 5   # the CSV/JSON request
    python benchmarks/bench_scorer.py --model artifacts/bankmarketing/1 --duration 10 \
        --variants sync:2:1 --azure-baseline .venv-azure/bin/python

Without --model a small deterministic artifact is built in a temporary directory.

--azure-baseline PYTHON adds a third server: Azure's own `azureml-inference-server-http`
(`azmlinfsrv`) running the Azure-style entry script azure_baseline/score.py, which does
`pd.DataFrame(json.loads(raw)["data"])` -> `model.predict` on a pickled FLAML AutoML object.
PYTHON is the interpreter of a separate venv (azure_baseline/requirements.txt; the server pins its
own Flask and gunicorn). The FLAML object is trained first, in that venv, by
azure_baseline/train_flaml.py on data/bankmarketing_train.csv (lgbm/xgboost/rf/extra_tree, seed
42, --azure-time-budget seconds) and pickled into the temporary directory, laid out as on Azure
(AZUREML_MODEL_DIR = .../azureml-models/NAME/1). The server gets the same sync worker count as
the first variant (its WORKER_COUNT variable), no auth header, at most 10 1,000-record requests.
The package always binds 0.0.0.0 (no option for it), so azure_baseline/serve.py starts the same
entry point with that constant set to 127.0.0.1. Its row's ratio is against the bare app run just
before it; a line per amlstack row then compares it with the Azure baseline.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "scorer" / "amlstack_scorer" / "gunicorn_conf.py"
KEY = "bench-primary-key-0123456789abcdef"
READY_TIMEOUT_S = 30.0
BIG_BATCH = 1000
AZURE_DIR = Path(__file__).resolve().parent / "azure_baseline"
AZURE_BIG_COUNT = 10  # the naive baseline takes far longer per 1,000-record request
AZURE_MODEL = Path("azureml-models", "bankmarketing-flaml", "1")  # Azure's NAME/VERSION layout
DATA = REPO / "data" / "bankmarketing_train.csv"
BULK_TIMEOUT_S = 120
V2_TARGET = 1.2  # one-record V2 infer latency within 1.2x of /score's
CSV_TARGET = 3.0  # a 100,000-row CSV request at least 3x faster than the same rows as JSON

BARE_APP = textwrap.dedent(
    """
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.get("/")
    def health():
        return "Healthy"

    @app.post("/score")
    def score():
        request.get_json()
        return jsonify({"predictions": ["no"]})
    """
)


@dataclass
class Result:
    name: str
    startup_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    big_ms: float
    non_2xx: int
    v2: Wrk | None = None  # one-record V2 infer on the same server (amlstack rows only)
    bulk: Bulk | None = None  # one bulk request, text/csv against JSON records


@dataclass
class Wrk:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


@dataclass
class Bulk:
    rows: int
    csv_ms: float
    json_ms: float
    csv_times: list[float] = field(default_factory=list)
    json_times: list[float] = field(default_factory=list)
    agree: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(
    url: str, proc: subprocess.Popen, started: float, timeout: float = READY_TIMEOUT_S
) -> float:
    """Seconds from ``started`` (perf_counter) until ``url`` answers 200; exits when ``proc``
    does or after ``timeout`` seconds."""
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.01)
    raise SystemExit(f"{url} not ready within {timeout:g} s")


def lua_script(path: Path, body: str, auth: bool) -> None:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    if auth:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {KEY}"')
    path.write_text("\n".join(lines) + "\n")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"cannot read wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * _UNITS[unit]


def run_wrk(
    url: str, script: Path, connections: int, duration: int
) -> tuple[float, float, float, int]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


def big_request_ms(url: str, body: bytes, auth: bool, count: int) -> float:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {KEY}"
    times = []
    for _ in range(count):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def post_timed(
    url: str, body: bytes, content_type: str, auth: bool, timeout: float = BULK_TIMEOUT_S
) -> tuple[float, bytes]:
    """One POST: (milliseconds to the last byte of the answer, the answer)."""
    headers = {"Content-Type": content_type}
    if auth:
        headers["Authorization"] = f"Bearer {KEY}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            answer = resp.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{url} ({content_type}): HTTP {exc.code}: {exc.read()[:300]!r}") from exc
    return (time.perf_counter() - started) * 1000, answer


def bulk_compare(url: str, bodies, auth: bool, count: int) -> Bulk:
    """The same rows as one text/csv request and as one JSON-records request, alternating."""
    csv_body, json_body = bodies["bulk_csv"], bodies["bulk_json"]
    # Three warm-ups of each (the workers' first large allocations: which worker takes a
    # request is the kernel's choice), the last kept to check agreement.
    for _ in range(3):
        _, csv_answer = post_timed(url, csv_body, "text/csv", auth)
        _, json_answer = post_timed(url, json_body, "application/json", auth)
    agree = answers_agree(csv_answer, json_answer)
    csv_times, json_times = [], []
    for _ in range(count):
        csv_times.append(post_timed(url, csv_body, "text/csv", auth)[0])
        json_times.append(post_timed(url, json_body, "application/json", auth)[0])
    return Bulk(
        bodies["bulk_rows"],
        statistics.median(csv_times),
        statistics.median(json_times),
        csv_times,
        json_times,
        agree,
    )


def answers_agree(csv_answer: bytes, json_answer: bytes, tolerance: float = 1e-5) -> str:
    """Whether the CSV and the JSON answers give the same labels and probabilities, as text."""
    rows = list(csv.DictReader(io.StringIO(csv_answer.decode())))
    doc = json.loads(json_answer)
    if len(rows) != len(doc["predictions"]):
        return f"DISAGREE: {len(rows)} CSV rows, {len(doc['predictions'])} JSON predictions"
    worst = 0.0
    for row, label, proba in zip(rows, doc["predictions"], doc["probabilities"], strict=True):
        if row["predicted_label"] != str(label):
            return f"DISAGREE: label {row['predicted_label']!r} vs {label!r}"
        for cls, p in proba.items():
            worst = max(worst, abs(float(row[f"probability_{cls}"]) - p))
    verdict = "agree" if worst <= tolerance else "DISAGREE"
    return f"{verdict}: {len(rows)} rows, labels equal, max |dp| {worst:.1e}"


def run_server(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    ready_url: str,
    args,
    bodies,
    *,
    auth: bool,
    big_count: int | None = None,
    warmup_s: int = 1,
    extras: bool = False,
) -> Result:
    """Start the server, measure it, stop it. ``extras``: also V2 infer and the bulk request."""
    port_url = ready_url.rsplit("/", 1)[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        startup = wait_ready(ready_url, proc, started)
        v2 = None
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "post.lua"
            lua_script(script, bodies["one"], auth)
            # A short warm-up so every server is measured hot.
            run_wrk(f"{port_url}/score", script, args.connections, warmup_s)
            rps, p50, p99, bad = run_wrk(
                f"{port_url}/score", script, args.connections, args.duration
            )
            if extras:
                v2_script = Path(tmp) / "v2.lua"
                lua_script(v2_script, bodies["v2"], auth)
                v2_url = f"{port_url}{bodies['v2_path']}"
                run_wrk(v2_url, v2_script, args.connections, warmup_s)
                v2 = Wrk(*run_wrk(v2_url, v2_script, args.connections, args.duration))
        count = args.big_count if big_count is None else big_count
        big = big_request_ms(f"{port_url}/score", bodies["big"], auth, count)
        bulk = bulk_compare(f"{port_url}/score", bodies, auth, args.bulk_count) if extras else None
        return Result(name, startup, rps, p50, p99, big, bad, v2, bulk)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def bare(args, bodies, workdir: Path, worker_class: str, workers: int, threads: int) -> Result:
    (workdir / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", "--chdir", str(workdir), "-b", f"127.0.0.1:{port}",
        "-w", str(workers), "-k", worker_class, "--threads", str(threads), "bare_app:app",
    ]  # fmt: skip
    return run_server(
        f"bare flask {worker_class} {workers}x{threads}",
        cmd,
        dict(os.environ),
        f"http://127.0.0.1:{port}/",
        args,
        bodies,
        auth=False,
    )


def ours(args, bodies, model: Path, worker_class: str, workers: int, threads: int) -> Result:
    port = free_port()
    env = dict(os.environ)
    env.update(
        AMLSTACK_MODEL_DIR=str(model),
        AMLSTACK_PRIMARY_KEY=KEY,
        AMLSTACK_HOST="127.0.0.1",
        AMLSTACK_PORT=str(port),
        AMLSTACK_WORKER_CLASS=worker_class,
        AMLSTACK_WORKERS=str(workers),
        AMLSTACK_THREADS=str(threads),
        AMLSTACK_AUTH="key",
        AMLSTACK_ACCESS_LOG="1",
        # Only so the bulk request fits (the defaults are 10,000 rows, 16 MiB, 30 s).
        AMLSTACK_MAX_BATCH=str(max(bodies["bulk_rows"], BIG_BATCH)),
        AMLSTACK_MAX_BODY_BYTES=str(max(len(bodies["bulk_json"]) + 2**20, 16 * 2**20)),
        AMLSTACK_TIMEOUT=str(BULK_TIMEOUT_S),
    )
    env.pop("AMLSTACK_KEY_FILE", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(CONF)]
    label = f"amlstack {worker_class} {workers}x{threads}"
    ready = f"http://127.0.0.1:{port}/ready"
    return run_server(label, cmd, env, ready, args, bodies, auth=True, extras=True)


def check_azure_python(python: str) -> None:
    probe = [python, "-c", "import azureml_inference_server_http, flaml, pandas"]
    try:
        subprocess.run(probe, capture_output=True, timeout=120, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(
            f"--azure-baseline {python}: cannot import azureml-inference-server-http, flaml and "
            f"pandas ({exc}); install {AZURE_DIR / 'requirements.txt'} into that venv"
        ) from exc


def train_azure_model(args, workdir: Path) -> tuple[Path, str]:
    """Train and pickle the FLAML AutoML object in the baseline venv: (model dir, summary)."""
    model_dir = workdir / AZURE_MODEL
    cmd = [
        args.azure_baseline, str(AZURE_DIR / "train_flaml.py"),
        "--data", str(REPO / "data" / "bankmarketing_train.csv"),
        "--out", str(model_dir / "model.pkl"),
        "--time-budget", str(args.azure_time_budget), "--seed", "42",
    ]  # fmt: skip
    # FLAML's budget bounds the search; the refit on all rows and the imports come on top.
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.azure_time_budget + 300, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"FLAML training for the Azure baseline failed:\n{out.stderr[-2000:]}")
    best, auc = out.stdout.strip().splitlines()[-1].split()[:2]
    summary = f"FLAML AutoML, {args.azure_time_budget} s budget, best {best}, validation AUC {auc}"
    return model_dir, summary


def azure(args, bodies, model_dir: Path, workers: int) -> Result:
    port = free_port()
    env = dict(os.environ)
    env.update(WORKER_COUNT=str(workers), AML_APP_ROOT=str(AZURE_DIR))
    env.pop("SEPERATE_HEALTH_ENDPOINT", None)  # sic: the package's spelling
    env.pop("AZUREML_CONFIG_FILE", None)
    cmd = [
        args.azure_baseline, str(AZURE_DIR / "serve.py"),
        "--entry_script", str(AZURE_DIR / "score.py"),
        "--model_dir", str(model_dir), "--port", str(port),
    ]  # fmt: skip
    # Each worker unpickles the model itself, so the liveness probe can answer while the other
    # worker is still loading: a longer warm-up lets it finish before the measured run.
    return run_server(
        f"azure infsrv sync {workers}x1",
        cmd,
        env,
        f"http://127.0.0.1:{port}/",
        args,
        bodies,
        auth=False,
        big_count=min(args.big_count, AZURE_BIG_COUNT),
        warmup_s=3,
    )


def table(results: list[Result]) -> str:
    """One row per server; ratios are against the bare app run just before (same variant).

    With an Azure baseline row, one line per amlstack row compares the two.
    """
    rows = [
        f"{'server':<28}{'start s':>9}{'req/s':>10}{'ratio':>7}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'1000-rec ms':>13}{'non-2xx':>9}"
    ]
    base = results[0]
    for r in results:
        if r.name.startswith("bare"):
            base = r
        rows.append(
            f"{r.name:<28}{r.startup_s:>9.2f}{r.rps:>10.0f}{r.rps / base.rps:>7.2f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.big_ms:>13.2f}{r.non_2xx:>9}"
        )
    azure_rows = [r for r in results if r.name.startswith("azure")]
    for r in results:
        if azure_rows and r.name.startswith("amlstack"):
            az = azure_rows[0]
            rows.append(
                f"{r.name} / azure baseline: {r.rps / az.rps:.1f}x req/s, "
                f"p50 {az.p50_ms / r.p50_ms:.1f}x lower, p99 {az.p99_ms / r.p99_ms:.1f}x lower, "
                f"1000-rec {az.big_ms / r.big_ms:.1f}x faster"
            )
    return "\n".join(rows)


def extras_table(results: list[Result], bulk_count: int) -> str:
    """V2 against /score, and CSV against JSON, per amlstack row (the same server)."""
    ours = [r for r in results if r.v2 is not None]
    if not ours:
        return ""
    rows = [
        "one-record V2 infer vs one-record /score (same server, same wrk settings):",
        f"{'server':<28}{'V2 req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
        f"{'p50 x':>8}{'p99 x':>8}{'req/s x':>9}  target p50 <= {V2_TARGET}x",
    ]
    for r in ours:
        v2 = r.v2
        p50x, p99x = v2.p50_ms / r.p50_ms, v2.p99_ms / r.p99_ms
        verdict = "met" if p50x <= V2_TARGET else "NOT met"
        rows.append(
            f"{r.name:<28}{v2.rps:>10.0f}{v2.p50_ms:>9.2f}{v2.p99_ms:>9.2f}{v2.non_2xx:>9}"
            f"{p50x:>8.2f}{p99x:>8.2f}{v2.rps / r.rps:>9.2f}  {verdict}"
        )
    bulks = [r for r in ours if r.bulk is not None]
    if bulks:
        n = bulks[0].bulk.rows
        rows += [
            "",
            f"one {n:,}-row request, text/csv vs the same rows as JSON records "
            f"(median of {bulk_count} each, alternating):",
            f"{'server':<28}{'CSV ms':>10}{'JSON ms':>10}{'speed-up':>10}"
            f"  target >= {CSV_TARGET}x; answers",
        ]
        for r in bulks:
            b = r.bulk
            speedup = b.json_ms / b.csv_ms
            verdict = "met" if speedup >= CSV_TARGET else "NOT met"
            rows.append(
                f"{r.name:<28}{b.csv_ms:>10.0f}{b.json_ms:>10.0f}{speedup:>9.2f}x"
                f"  {verdict}; {b.agree}"
            )
            rows.append(
                f"{'':<28}CSV ms {' '.join(f'{t:.0f}' for t in b.csv_times)}; "
                f"JSON ms {' '.join(f'{t:.0f}' for t in b.json_times)}"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, help="artifact directory (default: build a small one)"
    )
    parser.add_argument(
        "--duration", type=int, default=8, help="seconds of wrk per server (max 60)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--big-count", type=int, default=30, help="sequential 1,000-record requests"
    )
    parser.add_argument(
        "--bulk-rows", type=int, default=100_000, help="rows of the CSV/JSON bulk request"
    )
    parser.add_argument(
        "--bulk-count", type=int, default=5, help="timed bulk requests of each kind (max 20)"
    )
    parser.add_argument(
        "--variants",
        default="gthread:2:2",
        help="our worker settings to measure, class:workers:threads, comma-separated",
    )
    parser.add_argument(
        "--azure-baseline",
        metavar="PYTHON",
        help="python of a venv with benchmarks/azure_baseline/requirements.txt: also measure "
        "azureml-inference-server-http serving a pickled FLAML AutoML object",
    )
    parser.add_argument(
        "--azure-time-budget",
        type=int,
        default=30,
        help="FLAML time budget in seconds for the Azure baseline's model (max 300)",
    )
    args = parser.parse_args()
    args.duration = min(max(args.duration, 1), 60)
    args.big_count = min(max(args.big_count, 1), 200)
    args.bulk_rows = min(max(args.bulk_rows, 100), 200_000)
    args.bulk_count = min(max(args.bulk_count, 1), 20)
    args.azure_time_budget = min(max(args.azure_time_budget, 5), 300)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    if args.azure_baseline:
        check_azure_python(args.azure_baseline)
    with tempfile.TemporaryDirectory(prefix="amlstack-bench-") as tmp:
        workdir = Path(tmp)
        model = args.model or build_fixture(workdir)
        sample = json.loads((model / "sample_input.json").read_text())["data"]
        bodies = {
            "one": json.dumps({"data": sample[:1]}),
            "big": json.dumps({"data": (sample * BIG_BATCH)[:BIG_BATCH]}).encode(),
            **v2_body(model, sample[0]),
            **bulk_bodies(model, sample, args.bulk_rows),
        }
        azure_model, azure_summary = None, ""
        if args.azure_baseline:
            azure_model, azure_summary = train_azure_model(args, workdir)
        results = []
        for variant in args.variants.split(","):
            worker_class, workers, threads = variant.split(":")
            spec = (worker_class, int(workers), int(threads))
            results.append(bare(args, bodies, workdir, *spec))
            results.append(ours(args, bodies, model, *spec))
            if azure_model is not None:
                results.append(azure(args, bodies, azure_model, int(workers)))
                azure_model = None  # once, with the first variant's worker count
    print(f"wrk: {args.connections} connections, {args.duration} s, single-record POSTs, 127.0.0.1")
    print(f"model: {args.model or 'built-in fixture artifact'}; cpus: {os.cpu_count()}")
    if azure_summary:
        print(f"azure baseline model: {azure_summary}")
    print(table(results))
    extras = extras_table(results, args.bulk_count)
    if extras:
        print()
        print(f"bulk rows: {bodies['bulk_source']}")
        print(extras)


def v2_body(model: Path, record: dict) -> dict:
    """The one-record V2 infer: path and JSON tensor body (one input per feature, shape [1])."""
    card = json.loads((model / "model.json").read_text())
    inputs = []
    for feature in card["features"]:
        value = record.get(feature["name"])
        if value is None:
            raise SystemExit(f"sample record has no value for {feature['name']!r}")
        if feature["kind"] == "categorical":
            datatype, value = "BYTES", str(value)
        elif feature.get("dtype") == "int" and float(value).is_integer():
            datatype, value = "INT64", int(value)
        else:
            datatype, value = "FP32", float(value)
        inputs.append(
            {"name": feature["name"], "shape": [1], "datatype": datatype, "data": [value]}
        )
    name = urllib.parse.quote(str(card.get("name", "model")), safe="")
    return {"v2": json.dumps({"inputs": inputs}), "v2_path": f"/v2/models/{name}/infer"}


def bulk_bodies(model: Path, sample: list[dict], rows: int, seed: int = 42) -> dict:
    """The same ``rows`` records as a CSV body (header: the features) and as JSON records."""
    card = json.loads((model / "model.json").read_text())
    features = card["features"]
    names = [f["name"] for f in features]
    with DATA.open(newline="") as handle:
        reader = csv.DictReader(handle)
        data = list(reader) if set(names) <= set(reader.fieldnames or []) else []
    if data:
        picked = random.Random(seed).choices(data, k=rows)
        source = f"{rows:,} rows resampled (seed {seed}) from {DATA.relative_to(REPO)}"
        text_rows = [[row[n] for n in names] for row in picked]
    else:
        picked = (sample * (rows // len(sample) + 1))[:rows]
        source = f"the artifact's {len(sample)} sample records repeated to {rows:,} rows"
        text_rows = [["" if r.get(n) is None else str(r[n]) for n in names] for r in picked]
    numeric = [f["kind"] != "categorical" for f in features]
    records = [
        {
            n: (float(v) if v.strip() else None) if is_num else v
            for n, v, is_num in zip(names, row, numeric, strict=True)
        }
        for row in text_rows
    ]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(text_rows)
    return {
        "bulk_rows": rows,
        "bulk_csv": out.getvalue().encode(),
        "bulk_json": json.dumps({"data": records}).encode(),
        "bulk_source": source,
    }


def build_fixture(workdir: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "code" / "scorer"))
    from scorer_artifact_factory import build

    return build(workdir / "artifacts")


if __name__ == "__main__":
    main()
