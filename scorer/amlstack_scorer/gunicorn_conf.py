"""gunicorn settings for the amlstack scorer; every value comes from the typed Settings (env).

Worker model: 2 sync workers (AMLSTACK_WORKER_CLASS=sync, AMLSTACK_WORKERS=2), chosen by
measurement (docs/benchmarks.md, "Scorer worker model").

Scoring is CPU-bound Python, so threads in one worker only take turns on the GIL: they add
queueing (p99 doubles) and run-to-run variance without adding throughput. Sync workers hold no
keep-alive connections; the clients here (Azure's front end, Locust, ab) do not need them.
AMLSTACK_WORKER_CLASS=gthread remains available for slow clients reaching the port directly.

The artifact is read once per container: the master reads every file of it and checks it
against the manifest into memory (`on_starting`, before any worker exists); each worker builds
its onnxruntime session from those bytes after fork. So a worker that replaces a dead one
(kill -9, timeout) or a recycled one (max_requests), and the workers SIGHUP starts, serve the
model verified at start even when the files on disk changed since; they never re-read them.
SIGHUP replaces the workers (each reads the key file as it starts), never re-reads the
artifact (wsgi.preload keeps the first bytes even if this module were executed again): a new
artifact is served by a new container (a rollout). A bad artifact stops the master at start,
with one line, before it listens.

No preload of the app itself: onnxruntime is imported only in the workers (imported before fork,
it stopped workers from exiting on SIGTERM until graceful_timeout), and telemetry must start per
worker before the app exists. The master imports the rest of the serving code once; start-up to
ready measured 0.54-0.58 s (bench_scorer.py, "start s").
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from gunicorn.glogging import Logger

from amlstack.artifact.manifest import ArtifactError
from amlstack_scorer import logs, server
from amlstack_scorer.auth import generate_key_file
from amlstack_scorer.settings import Settings, SettingsError

try:
    _settings = Settings.from_env()
except SettingsError as _exc:
    sys.exit(f"amlstack scorer: {_exc}")

# prometheus-client's multi-process mode: workers write samples to files that /metrics merges.
# It must be set before any worker imports prometheus_client; the container's root file system
# is read-only, /tmp is a tmpfs there. A directory given in the environment is reused, but its
# stale sample files (a previous run's) are removed, or they would be summed in.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="amlstack-metrics-")
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
try:
    os.makedirs(_metrics_dir, exist_ok=True)
    for _name in os.listdir(_metrics_dir):
        if _name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, _name))
except OSError as _exc:  # a file there, no such parent, read-only: named, not "Error: [Errno"
    sys.exit(
        f"amlstack scorer: PROMETHEUS_MULTIPROC_DIR={_metrics_dir}: not a folder the metrics "
        f"can be written to ({_exc.strerror or _exc})"
    )

# One thread per worker for the numeric libraries: the workers are the parallelism.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# onnxruntime's usage telemetry: nothing for a scoring service to send, and on a read-only
# file system each worker printed a coloured "Failed to persist telemetry device ID" warning.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Import the serving code once in the master (the model itself is loaded per worker, after
# fork): forked workers share these modules instead of importing them again, which halves
# the CPU spent on start-up and gets the workers ready sooner.
import amlstack_scorer.app  # noqa: E402, F401

logs.configure(_settings.log_level)
# Generate the key file once, in the master, before any worker looks for it.
if _settings.auth_enabled and _settings.generate_keys and not _settings.primary_key:
    try:
        generate_key_file(_settings.key_file)
    except OSError as _exc:
        sys.exit(
            f"amlstack scorer: AMLSTACK_KEY_FILE={_settings.key_file} (amlstack serve "
            f"--key-file): cannot write the key file there ({_exc.strerror})"
        )

# JSON protocol errors and no `Server: gunicorn`, set in the master so every worker inherits them.
# A request must arrive (head and body) within the request deadline, or half the worker timeout
# when there is none, so a slow client cannot hold a sync worker until it is killed.
server.install(_settings.request_deadline_s or _settings.timeout_s / 2)

wsgi_app = "amlstack_scorer.wsgi:app"
bind = [_settings.bind]
# Sync workers that serve their already-accepted connections on SIGTERM before exiting.
worker_class = (
    "amlstack_scorer.server.DrainingSyncWorker"
    if _settings.worker_class == "sync"
    else _settings.worker_class
)
workers = _settings.workers
threads = _settings.threads if _settings.worker_class == "gthread" else 1
preload_app = False
# Per-request timeout (sync workers) / heartbeat; graceful_timeout bounds SIGTERM draining:
# in-flight requests finish, then the worker exits.
timeout = _settings.timeout_s
graceful_timeout = _settings.graceful_timeout_s
keepalive = 5
# The control socket (gunicorn >= 25.1) would need a writable home; nothing here uses it.
control_socket_disable = True
# Recycle workers now and then (guards against slow leaks); jitter avoids all restarting at once.
max_requests = _settings.max_requests
max_requests_jitter = max(1, _settings.max_requests // 10) if _settings.max_requests else 0


class JsonLogger(Logger):
    """gunicorn's own lines (boot, workers, errors) as the scorer's JSON lines, each once.

    gunicorn's setup adds its plain-text handler next to ours, which printed every line twice.
    """

    def setup(self, cfg):
        super().setup(cfg)
        logs.configure(_settings.log_level)


# Our JSON access log replaces gunicorn's; gunicorn's messages go through JsonLogger.
logger_class = JsonLogger
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
# The app alone decides whom to believe about the scheme (AMLSTACK_TRUSTED_PROXIES, routes.py):
# gunicorn's own default trusts X-Forwarded-Proto from 127.0.0.1, i.e. any local client.
forwarded_allow_ips = ""
# The request line and headers are bounded; the body limit is the app's (AMLSTACK_MAX_BODY_BYTES).
limit_request_line = 8190
limit_request_fields = 100


def on_starting(server):
    """Read and verify the artifact once, in the master, before any worker forks (see above)."""
    from amlstack_scorer import wsgi  # after PROMETHEUS_MULTIPROC_DIR is set (above)

    try:
        wsgi.preload(_settings)
    except (ArtifactError, SettingsError) as exc:
        sys.exit(f"amlstack scorer: {exc}")


def post_fork(server, worker):
    """Per-worker start: malloc keeps large requests' freed memory (`heap`); telemetry before
    the app is built, so its Flask instrumentation applies."""
    from amlstack_scorer import heap, telemetry

    heap.keep_freed_memory()
    telemetry.configure(_settings.appinsights_connection_string)


def post_worker_init(worker):
    """Let SIGHUP sent to a worker re-read the key file (SIGHUP to the master reloads workers)."""
    state = getattr(worker.wsgi, "extensions", {}).get("amlstack")
    if state is not None and state.keystore is not None:
        state.keystore.install_sighup()


def worker_exit(server, worker):
    """Hand the worker's buffered drift rows to the profile before it goes."""
    state = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("amlstack")
    if state is not None:
        state.flush_observers()


def when_ready(server):
    server.log.info("amlstack scorer ready on %s", ", ".join(bind))


def child_exit(server, worker):
    from amlstack_scorer.metrics import mark_worker_dead

    mark_worker_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
