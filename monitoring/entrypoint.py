"""Start Prometheus with the scorer's key in a file it reads on every scrape (``credentials_file``).

The key is AMLSTACK_PRIMARY_KEY when set (as in the scorer), else ``primaryKey`` of the scorer's
key file in the shared ``keys`` volume, waited for while the scorer starts. Prometheus cannot
read that JSON file itself (a credentials file holds the bare key), so when the key comes from
it a small process keeps the plain copy current: it re-reads the JSON file every REFRESH_S
seconds, as the scorers do, and replaces the copy when ``primaryKey`` changes. A key rotated in
the keys volume is then used from the next scrape on, with no restart. Retention is bounded by
time and size (PROMETHEUS_RETENTION_TIME, PROMETHEUS_RETENTION_SIZE).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

KEY_OUT = Path("/prometheus/scrape.key")  # prometheus.yml's credentials_file
WAIT_S = 120
REFRESH_S = 1.0
_DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")
_SIZE = re.compile(r"^\d+(B|KB|MB|GB|TB|PB|EB)$")


def key_in_file(key_file: Path) -> str:
    """``primaryKey`` of the scorer's key file; empty while it is missing or half written."""
    try:
        return str(json.loads(key_file.read_text())["primaryKey"]).strip()
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def read_key(env: dict[str, str], key_file: Path, wait_s: float = WAIT_S) -> str:
    key = env.get("AMLSTACK_PRIMARY_KEY", "").strip()
    deadline = time.monotonic() + wait_s
    while not key:
        key = key_in_file(key_file)
        if not key:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"prometheus: no scoring key: set AMLSTACK_PRIMARY_KEY or mount {key_file}"
                )
            time.sleep(1)
    return key


def write_key(path: Path, key: str) -> None:
    """Replace ``path`` at once: a scrape never reads a half-written key."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    os.replace(tmp, path)


def follow_key(key_file: Path, out: Path, key: str, parent: int) -> None:
    """Keep ``out`` equal to the key file's primaryKey while process ``parent`` (Prometheus)
    lives; an unreadable or emptied file keeps the last key rather than blanking it."""
    while os.getppid() == parent:
        time.sleep(REFRESH_S)
        current = key_in_file(key_file)
        if current and current != key:
            try:
                write_key(out, current)
            except OSError as exc:
                print(f"prometheus: cannot update {out}: {exc}", file=sys.stderr, flush=True)
                continue
            key = current
            print(f"prometheus: scrape key updated from {key_file}", file=sys.stderr, flush=True)


def setting(env: dict[str, str], name: str, default: str, pattern: re.Pattern) -> str:
    value = env.get(name, "").strip() or default
    if not pattern.match(value):
        raise SystemExit(f"prometheus: {name}={value!r} is not a Prometheus duration/size")
    return value


def main() -> None:
    env = dict(os.environ)
    retention_time = setting(env, "PROMETHEUS_RETENTION_TIME", "7d", _DURATION)
    retention_size = setting(env, "PROMETHEUS_RETENTION_SIZE", "1GB", _SIZE)
    key_file = Path(env.get("AMLSTACK_KEY_FILE", "/keys/keys.json"))
    key = read_key(env, key_file)
    write_key(KEY_OUT, key)
    if not env.get("AMLSTACK_PRIMARY_KEY", "").strip():
        # The key lives in the keys volume and may be rotated there: a child follows it while
        # this process becomes Prometheus (which stays PID 1 and gets the container's signals).
        parent = os.getpid()
        if os.fork() == 0:
            try:
                follow_key(key_file, KEY_OUT, key, parent)
            finally:
                os._exit(0)
    args = [
        "prometheus",
        "--config.file=/etc/amlstack/prometheus.yml",
        "--storage.tsdb.path=/prometheus/data",
        f"--storage.tsdb.retention.time={retention_time}",
        f"--storage.tsdb.retention.size={retention_size}",
        "--web.listen-address=0.0.0.0:9090",
        *sys.argv[1:],
    ]
    os.execvp(args[0], args)  # noqa: S606 (becomes Prometheus; fixed arguments)


if __name__ == "__main__":
    main()
