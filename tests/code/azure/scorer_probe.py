"""Start the real scorer with gunicorn and probe the routes/port given on the command line.

Run inside a fresh network namespace by test_azure_scorer_routes.py, so the deployment's own
port (5001) is free even when a Compose stack on this machine already publishes it.
Prints one JSON document with what each route answered.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

READY_DEADLINE_S = 90  # bounded wait for the model to load
READY_POLL_TIMEOUT_S = 2
HTTP_TIMEOUT_S = 10


def request(
    url: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = HTTP_TIMEOUT_S,
) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def main() -> None:
    spec = json.loads(sys.argv[1])
    base = f"http://127.0.0.1:{spec['port']}"
    env = os.environ | spec["env"]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", spec["gunicorn_conf"]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    result: dict = {}
    try:
        deadline = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < deadline and server.poll() is None:
            if request(base + spec["readiness"], timeout=READY_POLL_TIMEOUT_S)[0] == 200:
                break
            time.sleep(0.25)
        result["ready_after_s"] = round(READY_DEADLINE_S - (deadline - time.monotonic()), 1)
        result["liveness"] = request(base + spec["liveness"])
        result["readiness"] = request(base + spec["readiness"])
        body = json.dumps({"data": spec["rows"]}).encode()
        json_type = {"Content-Type": "application/json"}
        auth = {"Authorization": f"Bearer {spec['key']}"}
        result["score"] = request(base + spec["scoring"], body, json_type | auth)
        result["score_without_key"] = request(base + spec["scoring"], body, json_type)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
        result["stderr_tail"] = (err or "")[-2000:]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
