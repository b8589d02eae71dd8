"""Application Insights is optional: no connection string = off; a missing distro = a warning."""

from __future__ import annotations

import logging
import sys

from amlstack_scorer import telemetry


def test_off_without_a_connection_string(monkeypatch):
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    assert telemetry.configure() is False


def test_missing_distro_is_a_warning_not_a_crash(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", None)  # import fails
    with caplog.at_level(logging.WARNING, logger="amlstack"):
        enabled = telemetry.configure("InstrumentationKey=00000000-0000-0000-0000-000000000000")
    assert enabled is False
    assert "azure-monitor-opentelemetry is not installed" in caplog.text


def test_wrap_is_the_identity_when_off():
    def app(environ, start_response):
        return [b""]

    assert telemetry.wrap_wsgi(app) is app
