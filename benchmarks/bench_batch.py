"""Score one large file three ways on this machine, one after the other: rows/s and peak memory.

A CSV of --rows rows (default 1,000,000) is generated in a temporary directory by resampling
data/bankmarketing_train.csv with replacement (seeded), with a leading ``row_id`` column so the
outputs can be compared row by row. It is then scored by:

- local: ``amlstack predict`` (``python -m amlstack.cli predict``, the streamed one-machine
  engine) as a subprocess;
- spark: ``amlstack predict --engine spark --master local[2]`` as a subprocess (pyspark, Java);
- http: the scorer under gunicorn (--workers sync workers, 127.0.0.1, key auth) and a client
  subprocess that POSTs the file to ``/score`` as ``text/csv`` in chunks of --chunk-rows rows
  (default 100,000: the scorer bounds a batch, so one 1,000,000-row request is refused; the
  benchmark's scorer gets AMLSTACK_MAX_BATCH = the chunk size), --workers requests in flight,
  and writes the CSV answers in order.

Per engine: wall seconds and rows/s (local and spark from process start, so interpreter, model
load and Spark's JVM start-up are included; http from the client's start, the server already
up, its start-up printed apart), the ratio to local, and peak memory: the largest sum of RSS over
the step's process tree (sampled from /proc every 0.1 s; RSS counts pages shared between
processes, e.g. gunicorn's forked workers, once per process, so it is an upper bound) and the
largest single process's peak RSS (getrusage of the waited-for tree). For http the tree is the
server's plus the client's. Then the three outputs are compared on --sample rows (seeded):
labels equal and probabilities within 1e-5. Every step is bounded by --step-timeout seconds.

    python benchmarks/bench_batch.py --model artifacts/bankmarketing/1
    python benchmarks/bench_batch.py --model DIR --rows 200000 --engines local,http

Without --model a small deterministic artifact is built in the temporary directory. Linux only
(/proc). Needs the spark extra and Java 17+ for the spark engine.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench_scorer import free_port, wait_ready  # beside this script

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "bankmarketing_train.csv"
CONF = REPO / "scorer" / "amlstack_scorer" / "gunicorn_conf.py"
KEY = "bench-primary-key-0123456789abcdef"
ENGINES = ("local", "spark", "http")
TOLERANCE = 1e-5
READY_TIMEOUT_S = 60.0
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Step:
    name: str
    seconds: float
    peak_tree_bytes: int
    max_process_bytes: int
    rows: int
    note: str = ""


# -- the input ---------------------------------------------------------------------------------
def generate(path: Path, rows: int, seed: int, source: Path = DATA) -> int:
    """Write ``rows`` rows drawn with replacement from ``source`` (seeded), ids 0..rows-1."""
    with source.open(newline="", encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    header, data = lines[0], [line for line in lines[1:] if line]
    rng = random.Random(seed)
    block = 100_000
    with path.open("w", newline="") as out:
        out.write(f"row_id,{header}\n")
        for start in range(0, rows, block):
            picked = rng.choices(data, k=min(block, rows - start))
            out.write("".join(f"{start + i},{line}\n" for i, line in enumerate(picked)))
    return path.stat().st_size


# -- memory of a process tree ------------------------------------------------------------------
def tree_rss(roots: list[int]) -> int:
    """The summed RSS in bytes of ``roots`` and all their descendants (from /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) "
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, [r for r in roots if r in rss], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


class TreeSampler(threading.Thread):
    """Samples tree_rss(roots) every ``interval`` seconds; ``peak`` is the largest seen."""

    def __init__(self, roots: list[int], interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.roots, self.interval, self.peak = list(roots), interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss(self.roots))
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def wait_bounded(proc: subprocess.Popen, timeout: float, what: str) -> int:
    """Wait for ``proc`` (its own session) at most ``timeout`` s: its peak RSS in bytes."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss * 1024  # Linux: kilobytes
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise SystemExit(f"{what}: no result within {timeout:.0f} s (killed)")
        time.sleep(0.05)


def run_step(name: str, cmd: list[str], rows: int, timeout: float, logs: Path, env=None) -> Step:
    log = logs / f"{name.split()[0]}.log"
    with log.open("wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        sampler = TreeSampler([proc.pid])
        sampler.start()
        try:
            biggest = wait_bounded(proc, timeout, name)
        finally:
            peak = sampler.stop()
        seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")
    return Step(name, seconds, peak, biggest, rows)


# -- the engines -------------------------------------------------------------------------------
def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "amlstack.cli", "predict", *args]


def step_local(args, model: Path, source: Path, out: Path, logs: Path) -> Step:
    cmd = cli("--model", str(model), "--input", str(source), "--output", str(out))
    return run_step("local predict", cmd, args.rows, args.step_timeout, logs)


def step_spark(args, model: Path, source: Path, out: Path, logs: Path) -> Step:
    cmd = cli("--model", str(model), "--input", str(source), "--output", str(out),
              "--engine", "spark", "--master", args.master)  # fmt: skip
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    return run_step(f"spark {args.master}", cmd, args.rows, args.step_timeout, logs, env)


def step_http(args, model: Path, source: Path, out: Path, logs: Path) -> Step:
    port = free_port()
    bytes_per_row = source.stat().st_size / max(args.rows, 1)
    env = dict(os.environ)
    for name in ("AMLSTACK_KEY_FILE", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    env.update(
        AMLSTACK_MODEL_DIR=str(model),
        AMLSTACK_PRIMARY_KEY=KEY,
        AMLSTACK_AUTH="key",
        AMLSTACK_HOST="127.0.0.1",
        AMLSTACK_PORT=str(port),
        AMLSTACK_WORKER_CLASS="sync",
        AMLSTACK_WORKERS=str(args.workers),
        AMLSTACK_THREADS="1",
        # A chunk must fit the scorer's limits: rows per request, bytes per body, seconds.
        AMLSTACK_MAX_BATCH=str(args.chunk_rows),
        AMLSTACK_MAX_BODY_BYTES=str(max(16 * 2**20, int(2 * bytes_per_row * args.chunk_rows))),
        AMLSTACK_TIMEOUT="300",
    )
    started = time.perf_counter()
    with (logs / "scorer.log").open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONF)],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        startup = wait_ready(f"http://127.0.0.1:{port}/ready", server, started, READY_TIMEOUT_S)
        client_cmd = [
            sys.executable, str(Path(__file__).resolve()), "--http-client",
            f"http://127.0.0.1:{port}/score", str(source), str(out),
            str(args.chunk_rows), str(args.workers),
        ]  # fmt: skip
        with (logs / "client.log").open("wb") as sink:
            began = time.perf_counter()
            client = subprocess.Popen(
                client_cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
            sampler = TreeSampler([server.pid, client.pid])
            sampler.start()
            try:
                client_peak = wait_bounded(client, args.step_timeout, "http client")
            finally:
                peak = sampler.stop()
            seconds = time.perf_counter() - began
        if client.returncode != 0:
            raise SystemExit(
                f"http client exited with {client.returncode}:\n"
                f"{(logs / 'client.log').read_text(errors='replace')[-3000:]}"
            )
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server_peak = wait_bounded(server, 60, "scorer shutdown")
    note = (
        f"scorer start-up {startup:.1f} s (not counted); {args.chunk_rows:,}-row text/csv "
        f"requests, {args.workers} in flight, {args.workers} sync workers"
    )
    name = f"http csv {args.workers} sync"
    return Step(name, seconds, peak, max(server_peak, client_peak), args.rows, note)


def http_client(url: str, source: Path, out: Path, chunk_rows: int, in_flight: int) -> None:
    """POST ``source`` in chunks as text/csv, at most ``in_flight`` at once; answers in order."""
    headers = {"Content-Type": "text/csv", "Authorization": f"Bearer {KEY}"}

    def post(body: bytes) -> bytes:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=300) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"HTTP {exc.code}: {exc.read()[:500]!r}") from exc

    rows = 0
    with (
        source.open("rb") as src,
        out.open("wb") as dst,
        ThreadPoolExecutor(max_workers=in_flight) as pool,
    ):
        header = src.readline()
        pending: deque = deque()
        first = True

        def drain_one() -> None:
            nonlocal first
            answer = pending.popleft().result()
            if not first:  # every answer starts with its header; keep the first only
                answer = answer[answer.index(b"\n") + 1 :]
            first = False
            dst.write(answer)

        while True:
            lines = list(itertools.islice(src, chunk_rows))
            if not lines:
                break
            rows += len(lines)
            pending.append(pool.submit(post, header + b"".join(lines)))
            if len(pending) >= in_flight:
                drain_one()
        while pending:
            drain_one()
    print(f"{rows} rows")


# -- agreement ---------------------------------------------------------------------------------
def read_sample(paths: list[Path], wanted: set[int], by_position: bool) -> dict[int, tuple]:
    """Row id -> (probabilities, label) for the ``wanted`` rows of one engine's output."""
    found: dict[int, tuple] = {}
    total = 0
    for path in paths:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            proba_at = [i for i, h in enumerate(header) if h.startswith("probability_")]
            label_at = header.index("predicted_label")
            id_at = None if by_position else header.index("row_id")
            for row in reader:
                row_id = total if by_position else int(row[id_at])
                total += 1
                if row_id in wanted:
                    found[row_id] = (tuple(float(row[i]) for i in proba_at), row[label_at])
    found[-1] = (total,)  # the row count, under a key no row has
    return found


def compare(reference: dict, other: dict, rows: int) -> str:
    count = other.pop(-1)[0]
    worst, labels = 0.0, 0
    for row_id, (proba, label) in reference.items():
        got = other.get(row_id)
        if got is None:
            return f"DISAGREE: row {row_id} missing"
        worst = max(worst, *(abs(a - b) for a, b in zip(proba, got[0], strict=True)))
        labels += got[1] != label
    ok = worst <= TOLERANCE and labels == 0 and count == rows
    return (
        f"{'agree' if ok else 'DISAGREE'}: {count:,} rows, max |dp| {worst:.1e}, "
        f"{labels} label(s) differ"
    )


# -- main --------------------------------------------------------------------------------------
def table(steps: list[Step]) -> str:
    base = next((s for s in steps if s.name.startswith("local")), steps[0])
    lines = [
        f"{'engine':<22}{'seconds':>9}{'rows/s':>11}{'vs local':>10}"
        f"{'peak tree RSS MB':>18}{'largest process MB':>20}"
    ]
    for s in steps:
        rate, base_rate = s.rows / s.seconds, base.rows / base.seconds
        lines.append(
            f"{s.name:<22}{s.seconds:>9.1f}{rate:>11,.0f}{rate / base_rate:>10.2f}"
            f"{s.peak_tree_bytes / 2**20:>18.0f}{s.max_process_bytes / 2**20:>20.0f}"
        )
    lines += [f"  {s.name}: {s.note}" for s in steps if s.note]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--http-client":
        url, source, out, chunk, in_flight = sys.argv[2:7]
        http_client(url, Path(source), Path(out), int(chunk), int(in_flight))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="artifact directory (default: build one)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (max 5M)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated")
    parser.add_argument("--master", default="local[2]", help="the spark engine's master")
    parser.add_argument("--workers", type=int, default=2, help="http: scorer sync workers")
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="http: rows per request")
    parser.add_argument("--sample", type=int, default=2000, help="rows compared across engines")
    parser.add_argument("--step-timeout", type=float, default=900, help="seconds per engine")
    args = parser.parse_args()
    args.rows = min(max(args.rows, 1000), 5_000_000)
    args.chunk_rows = min(max(args.chunk_rows, 100), 200_000)
    args.workers = min(max(args.workers, 1), 8)
    args.step_timeout = min(max(args.step_timeout, 10), 3600)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(engines) - set(ENGINES):
        raise SystemExit(f"--engines: unknown {sorted(unknown)}; choose from {ENGINES}")
    with tempfile.TemporaryDirectory(prefix="amlstack-batch-") as tmp:
        work = Path(tmp)
        model = args.model or build_fixture(work)
        source = work / "input.csv"
        began = time.perf_counter()
        size = generate(source, args.rows, args.seed)
        print(
            f"input: {args.rows:,} rows resampled with replacement (seed {args.seed}) from "
            f"{DATA.relative_to(REPO)}, {size / 2**20:.0f} MB, generated in "
            f"{time.perf_counter() - began:.1f} s"
        )
        print(f"model: {args.model or 'built-in fixture artifact'}; cpus: {os.cpu_count()}")
        runs = {
            "local": (step_local, work / "local.csv", False),
            "spark": (step_spark, work / "spark.csv", False),
            "http": (step_http, work / "http.csv", True),
        }
        steps, outputs = [], {}
        for engine in engines:
            step, out, by_position = runs[engine]
            load = os.getloadavg()
            result = step(args, model, source, out, work)
            result.note = f"load before {load[0]:.2f}" + (f"; {result.note}" if result.note else "")
            steps.append(result)
            paths = sorted(out.glob("part-*.csv")) if out.is_dir() else [out]
            outputs[engine] = (paths, by_position)
            print(f"  {result.name}: {result.seconds:.1f} s", flush=True)
        print(table(steps))
        if len(outputs) > 1:
            wanted = set(random.Random(args.seed + 1).sample(range(args.rows), args.sample))
            samples = {e: read_sample(p, wanted, pos) for e, (p, pos) in outputs.items()}
            first, *others = list(samples)
            reference = samples[first]
            reference_count = reference.pop(-1)[0]
            print(f"agreement on {len(wanted):,} sampled rows ({first}: {reference_count:,} rows):")
            for engine in others:
                print(f"  {engine} vs {first}: {compare(reference, samples[engine], args.rows)}")


def build_fixture(workdir: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "code" / "scorer"))
    from scorer_artifact_factory import build

    return build(workdir / "artifacts")


if __name__ == "__main__":
    main()
