"""The batch benchmark's own logic: the resampled input, tree memory, the agreement check.

Fast: no engine runs here (the benchmark itself takes minutes); the end-to-end path of the http
client is covered against a tiny in-process server.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))  # as when it runs: its sibling bench_scorer
spec = importlib.util.spec_from_file_location("bench_batch", REPO / "benchmarks" / "bench_batch.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_batch"] = bench  # its dataclasses look their module up
spec.loader.exec_module(bench)


def test_generate_is_seeded_resampling_with_row_ids(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    bench.generate(a, 2500, seed=7)
    bench.generate(b, 2500, seed=7)
    bench.generate(c, 2500, seed=8)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    lines = a.read_text().splitlines()
    source = bench.DATA.read_text().splitlines()
    assert lines[0] == "row_id," + source[0]
    assert len(lines) == 2501
    known = set(source[1:])
    for i, line in enumerate(lines[1:]):
        row_id, rest = line.split(",", 1)
        assert int(row_id) == i and rest in known


def test_tree_rss_counts_children():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; x = bytearray(64 * 2**20); time.sleep(30)"]
    )
    try:
        for _ in range(100):  # until the child holds its 64 MB
            alone = bench.tree_rss([child.pid])
            if alone > 64 * 2**20:
                break
            threading.Event().wait(0.05)
        assert alone > 64 * 2**20
        assert bench.tree_rss([os.getpid()]) > alone  # this process and its child
        assert bench.tree_rss([]) == 0
    finally:
        child.kill()
        child.wait()


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")


def test_agreement_reads_ids_or_positions_and_flags_differences(tmp_path):
    cols = ["row_id", "age", "probability_no", "probability_yes", "predicted_label"]
    _write(tmp_path / "local.csv", cols, [[i, 30, 0.9, 0.1, "no"] for i in range(4)])
    part = tmp_path / "spark.csv"
    part.mkdir()
    _write(part / "part-1.csv", cols, [[3, 30, 0.900001, 0.099999, "no"], [2, 30, 0.9, 0.1, "no"]])
    _write(part / "part-0.csv", cols, [[0, 30, 0.9, 0.1, "no"], [1, 30, 0.9, 0.1, "no"]])
    _write(
        tmp_path / "http.csv",
        cols[2:],
        [[0.9, 0.1, "no"], [0.9, 0.1, "no"], [0.5, 0.5, "yes"], [0.9, 0.1, "no"]],
    )
    wanted = {1, 2, 3}
    reference = bench.read_sample([tmp_path / "local.csv"], wanted, by_position=False)
    assert reference.pop(-1) == (4,)
    spark = bench.read_sample(sorted(part.glob("part-*.csv")), wanted, by_position=False)
    assert bench.compare(reference, spark, 4).startswith("agree: 4 rows")
    http = bench.read_sample([tmp_path / "http.csv"], wanted, by_position=True)
    verdict = bench.compare(reference, http, 4)
    assert verdict.startswith("DISAGREE") and "1 label(s) differ" in verdict


def test_http_client_posts_chunks_as_csv_and_keeps_one_header(tmp_path):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # answers one output row per input row, tagged with its id
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append((self.headers["Content-Type"], body.splitlines()[0]))
            ids = [line.split(",")[0] for line in body.splitlines()[1:]]
            answer = "probability_no,probability_yes,predicted_label\n"
            answer += "".join(f"0.{i},0.5,no\n" for i in ids)
            data = answer.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source, out = tmp_path / "in.csv", tmp_path / "out.csv"
        bench.generate(source, 1050, seed=1)
        url = f"http://127.0.0.1:{server.server_address[1]}/score"
        bench.http_client(url, source, out, chunk_rows=100, in_flight=2)
    finally:
        server.shutdown()
    assert len(seen) == 11 and all(t == "text/csv" for t, _ in seen)
    assert all(h.startswith("row_id,age,") for _, h in seen)
    lines = out.read_text().splitlines()
    assert lines[0] == "probability_no,probability_yes,predicted_label" and len(lines) == 1051
    assert [line.split(",")[0] for line in lines[1:]] == [f"0.{i}" for i in range(1050)]
