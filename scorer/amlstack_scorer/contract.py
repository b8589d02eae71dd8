"""The scorer's external contract: routes, port and concurrency defaults.

Everything outside the scorer (Compose healthchecks, the Azure deployment YAML, Locust, tests)
reads these names from here instead of typing them again.
"""

from __future__ import annotations

DEFAULT_PORT = 5001  # Azure ML's inference port
LIVENESS_ROUTE = "/"  # answers "Healthy" as soon as the process runs
READINESS_ROUTE = "/ready"  # answers 200 only once the model is loaded and verified
SCORING_ROUTE = "/score"
SWAGGER_ROUTE = "/swagger.json"
METRICS_ROUTE = "/metrics"
PROFILE_ROUTE = "/profile"  # behind the key: the served model's training profile (profile.json)
JSON_MIMETYPE = "application/json"  # every request and response body
REQUEST_ID_HEADER = "X-Request-ID"  # echoed when safe, else generated; in every log line
CSV_MIMETYPE = "text/csv"  # /score's bulk form: CSV in, CSV out
# A CSV answer has no place for these, so they come as headers.
MODEL_NAME_HEADER = "X-Model-Name"
MODEL_VERSION_HEADER = "X-Model-Version"
THRESHOLD_HEADER = "X-Decision-Threshold"  # binary models: p(positive) >= this is positive

# Environment variables (the typed settings object in settings.py reads them).
ENV_PREFIX = "AMLSTACK_"
MODEL_DIR_ENV = "AMLSTACK_MODEL_DIR"
KEY_FILE_ENV = "AMLSTACK_KEY_FILE"  # JSON {"primaryKey": ..., "secondaryKey": ...}
PRIMARY_KEY_ENV = "AMLSTACK_PRIMARY_KEY"
SECONDARY_KEY_ENV = "AMLSTACK_SECONDARY_KEY"
AUTH_ENV = "AMLSTACK_AUTH"  # "key" (default) or "none" (explicit, loudly logged opt-out)
APPINSIGHTS_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"

DEFAULT_WORKERS = 2
DEFAULT_WORKER_CLASS = "sync"  # measured against gthread: see gunicorn_conf.py
DEFAULT_THREADS = 1  # threads per worker; only a gthread worker uses more than one
DEFAULT_TIMEOUT_S = 30
# A request not scored this long after it was accepted is answered 503 + Retry-After, unscored:
# its client (Azure's front end times out after 5 s by default) has most likely given up.
DEFAULT_REQUEST_DEADLINE_S = 5.0
DEFAULT_MAX_BATCH = 10_000
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


def max_concurrency(
    workers: int = DEFAULT_WORKERS,
    threads: int = DEFAULT_THREADS,
    worker_class: str = DEFAULT_WORKER_CLASS,
) -> int:
    """Requests one instance works on at once (Azure's max_concurrent_requests_per_instance)."""
    return workers * threads if worker_class == "gthread" else workers
