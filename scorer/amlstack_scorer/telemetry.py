"""Azure Application Insights through the Azure Monitor OpenTelemetry distro, per gunicorn worker.

Only active when APPLICATIONINSIGHTS_CONNECTION_STRING is set; the distro is imported lazily and a
missing package is a warning, never a crash (it lives in the ``telemetry`` extra).
"""

from __future__ import annotations

import logging
import os

from amlstack_scorer.contract import APPINSIGHTS_ENV

log = logging.getLogger("amlstack.scorer")
_enabled = False


def configure(connection_string: str | None = None) -> bool:
    """Start exporting requests, dependencies, exceptions and logs; True when it did.

    Call once per process after fork (gunicorn's post_fork) and before the Flask app is built, so
    the distro's Flask instrumentation wraps it.
    """
    global _enabled
    connection_string = connection_string or os.environ.get(APPINSIGHTS_ENV)
    if not connection_string:
        return False
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
    except ImportError:
        log.warning(
            "%s is set but azure-monitor-opentelemetry is not installed; "
            "install amlstack[telemetry] to send telemetry to Application Insights",
            APPINSIGHTS_ENV,
        )
        return False
    try:
        configure_azure_monitor(connection_string=connection_string, logger_name="amlstack")
    except Exception as exc:  # a bad connection string must not take the scorer down
        log.warning("Application Insights telemetry is off: %s", exc)
        return False
    _enabled = True
    log.info("Application Insights telemetry is on")
    return True


def record_exception(exc: BaseException) -> None:
    """Attach an exception to the current request's span (no-op when telemetry is off)."""
    if not _enabled:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR))


def wrap_wsgi(app):
    """Trace a plain WSGI callable (the /score hot path) when telemetry is on; else return it."""
    if not _enabled:
        return app
    try:
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    except ImportError:
        return app
    return OpenTelemetryMiddleware(app)
