"""Start Prometheus with the scorer's key in a file it can read (``credentials_file``).

The key is AMLSTACK_PRIMARY_KEY when set (as in the scorer), else ``primaryKey`` of the scorer's
key file in the shared ``keys`` volume, waited for while the scorer starts. Retention is bounded
by time and size (PROMETHEUS_RETENTION_TIME, PROMETHEUS_RETENTION_SIZE).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

KEY_OUT = Path("/prometheus/scrape.key")
WAIT_S = 120
_DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")
_SIZE = re.compile(r"^\d+(B|KB|MB|GB|TB|PB|EB)$")


def read_key(env: dict[str, str], key_file: Path, wait_s: float = WAIT_S) -> str:
    key = env.get("AMLSTACK_PRIMARY_KEY", "").strip()
    deadline = time.monotonic() + wait_s
    while not key:
        try:
            key = str(json.loads(key_file.read_text())["primaryKey"]).strip()
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"prometheus: no scoring key: set AMLSTACK_PRIMARY_KEY or mount {key_file}"
                ) from None
            time.sleep(1)
    return key


def setting(env: dict[str, str], name: str, default: str, pattern: re.Pattern) -> str:
    value = env.get(name, "").strip() or default
    if not pattern.match(value):
        raise SystemExit(f"prometheus: {name}={value!r} is not a Prometheus duration/size")
    return value


def main() -> None:
    env = dict(os.environ)
    retention_time = setting(env, "PROMETHEUS_RETENTION_TIME", "7d", _DURATION)
    retention_size = setting(env, "PROMETHEUS_RETENTION_SIZE", "1GB", _SIZE)
    key = read_key(env, Path(env.get("AMLSTACK_KEY_FILE", "/keys/keys.json")))
    KEY_OUT.write_text(key)
    KEY_OUT.chmod(0o600)
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
