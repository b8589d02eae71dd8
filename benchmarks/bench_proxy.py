"""The stack's proxy under attack and overload, against one scorer replica reached directly.

Runs against a Compose stack that is up (`scripts/stack.sh up`); every phase is bounded in time
and connections, and only 127.0.0.1 and the stack's own containers are contacted.

    python benchmarks/bench_proxy.py                      # key from `scripts/stack.sh key`
    python benchmarks/bench_proxy.py --slow 50 --slow-seconds 30 --overload 256

Phases, each printed as a row:
  baseline   wrk, 8 connections, single-record POSTs through the proxy
  slow       the same while --slow clients trickle `POST /score HTTP/1.1` headers one byte every
             0.5 s for --slow-seconds (p99 ratio against baseline; the slow clients get 408)
  direct     the same trickle against one replica's own address, no proxy in front: the named
             baseline that shows what the proxy buys (normal requests time out there)
  overload   wrk with --overload connections and 200-record batches: the share answered 503
             with Retry-After, and wrk's timeouts (the aim: none)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELPERS = REPO / "scripts" / "docker-env.sh"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scorer import _ms  # noqa: E402  (one wrk latency parser)

TRICKLE = b"POST /score HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
TRICKLE_INTERVAL_S = 0.5
DIRECT_SECONDS = 12  # the no-proxy baseline stalls its replica: keep it short


def stack_shell(script: str) -> str:
    done = subprocess.run(
        ["bash", "-c", f'source "{HELPERS}" && {script}'],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+)", out)
    return {
        "requests": requests,
        "non2xx": int(bad.group(1)) if bad else 0,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
    }


def lua(path: Path, body: str, key: str) -> Path:
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    return path


class Trickle(threading.Thread):
    """``count`` connections each sending TRICKLE one byte per interval until ``seconds`` pass."""

    def __init__(self, host: str, port: int, count: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.address, self.count, self.seconds = (host, port), count, seconds
        self.answers: dict[str, int] = {}

    def run(self) -> None:
        socks = []
        for _ in range(self.count):
            try:
                socks.append(socket.create_connection(self.address, timeout=2))
            except OSError:
                self.answers["connect error"] = self.answers.get("connect error", 0) + 1
        deadline = time.monotonic() + self.seconds
        position = 0
        while time.monotonic() < deadline and socks:
            byte = TRICKLE[position % len(TRICKLE) : position % len(TRICKLE) + 1]
            for sock in list(socks):
                try:
                    sock.sendall(byte)
                except OSError:
                    socks.remove(sock)
                    self._answered(sock)
            position += 1
            time.sleep(TRICKLE_INTERVAL_S)
        for sock in socks:
            self._answered(sock)

    def _answered(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(0.5)
            line = sock.recv(64).split(b"\r\n", 1)[0].decode("latin1") or "closed"
        except OSError:
            line = "no answer"
        finally:
            sock.close()
        status = line.split(" ")[1] if line.startswith("HTTP/") else line
        self.answers[status] = self.answers.get(status, 0) + 1


def under_trickle(url: str, script: Path, args, host: str, port: int) -> tuple[dict, dict]:
    trickle = Trickle(host, port, args.slow, args.slow_seconds)
    trickle.start()
    time.sleep(2)  # every slow connection is open before the measured requests start
    result = wrk(url, script, 8, max(1, int(args.slow_seconds) - 4))
    trickle.join(timeout=args.slow_seconds + 10)
    return result, trickle.answers


def first_replica_address() -> str:
    container = stack_shell("compose ps -q scorer").split()[0]
    return stack_shell(
        f"docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}"
        f"{{{{end}}}}' {container}"
    )


def retry_after_sample(url: str, body: bytes, key: str) -> str:
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return f"{resp.status} (not shed)"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} Retry-After={exc.headers.get('Retry-After')} {exc.read()[:80]!r}"


def row(name: str, r: dict, base: dict | None, note: str = "") -> str:
    ratio = f"{r['p99'] / base['p99']:.2f}" if base else "1.00"
    return (
        f"{name:<9} {r['requests']:>8} {r['non2xx']:>7} {r['timeouts']:>8} "
        f"{r['p50']:>7.2f} {r['p99']:>8.2f} {ratio:>7}  {note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    port = os.environ.get("AMLSTACK_SCORER_PORT", "5001")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="the proxy's URL")
    parser.add_argument("--key", default=None, help="scoring key (default: scripts/stack.sh key)")
    parser.add_argument("--slow", type=int, default=50, help="slow clients (max 200)")
    parser.add_argument("--slow-seconds", type=float, default=30, help="trickle time (max 60)")
    parser.add_argument("--overload", type=int, default=256, help="overload connections (max 512)")
    parser.add_argument("--no-direct", action="store_true", help="skip the no-proxy baseline")
    args = parser.parse_args()
    if args.slow > 200 or args.slow_seconds > 60 or args.overload > 512:
        raise SystemExit("--slow <= 200, --slow-seconds <= 60, --overload <= 512 (bounded)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    key = args.key or stack_shell("stack_key")
    with urllib.request.urlopen(f"{args.url}/", timeout=5):
        pass
    sample = json.loads(stack_shell("scorer_exec cat /app/model/sample_input.json"))
    one = json.dumps({"data": sample["data"][:1]})
    batch = json.dumps({"data": sample["data"][:1] * 200})
    host, port = args.url.removeprefix("http://").split(":")
    with tempfile.TemporaryDirectory() as tmp:
        single = lua(Path(tmp, "one.lua"), one, key)
        heavy = lua(Path(tmp, "batch.lua"), batch, key)
        print(f"stack {args.url}; {args.slow} slow clients x {args.slow_seconds:.0f} s; "
              f"overload {args.overload} connections")  # fmt: skip
        print("phase     requests  non2xx timeouts  p50 ms   p99 ms  p99 x  notes")
        base = wrk(f"{args.url}/score", single, 8, 10)
        print(row("baseline", base, None, "8 connections through the proxy"))
        slow, answers = under_trickle(f"{args.url}/score", single, args, host, int(port))
        print(row("slow", slow, base, f"slow clients answered: {answers}"))
        if not args.no_direct:
            replica = first_replica_address()
            direct_args = argparse.Namespace(
                slow=args.slow, slow_seconds=min(args.slow_seconds, DIRECT_SECONDS)
            )
            direct, answers = under_trickle(
                f"http://{replica}:5001/score", single, direct_args, replica, 5001
            )
            print(row("direct", direct, base, f"one replica, no proxy; slow: {answers}"))
        result: dict = {}
        runner = threading.Thread(
            target=lambda: result.update(wrk(f"{args.url}/score", heavy, args.overload, 10))
        )
        runner.start()
        time.sleep(4)
        probe = retry_after_sample(f"{args.url}/score", batch.encode(), key)
        runner.join()
        share = result["non2xx"] / max(1, result["requests"])
        print(row("overload", result, base, f"{share:.0%} shed; a probe meanwhile: {probe}"))


if __name__ == "__main__":
    main()
