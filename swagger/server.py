"""Serve Swagger UI (from the swagger-ui-bundle wheel) opening on the scorer's swagger.json.

The browser fetches swagger.json itself, from the scorer's published port, so "Try it out" calls
the scorer directly (the scorer allows this origin through CORS). Only the standard library.
"""

from __future__ import annotations

import json
import os
import signal
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_SPEC_URL = "http://localhost:5001/swagger.json"
INITIALIZER = "/swagger-initializer.js"
HEALTH = "/healthz"


def initializer_js(spec_url: str) -> bytes:
    """The page's SwaggerUIBundle call: our spec, a kept key, Try-it-out ready."""
    config = {
        "url": spec_url,
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "persistAuthorization": True,
        "displayRequestDuration": True,
        "tryItOutEnabled": True,
        "validatorUrl": None,
    }
    return (
        "window.onload = function () {\n"
        f"  const config = {json.dumps(config)};\n"
        "  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset];\n"
        "  config.plugins = [SwaggerUIBundle.plugins.DownloadUrl];\n"
        '  config.layout = "StandaloneLayout";\n'
        "  window.ui = SwaggerUIBundle(config);\n"
        "};\n"
    ).encode()


class SwaggerHandler(SimpleHTTPRequestHandler):
    """Static Swagger UI files plus a generated initializer and a health route."""

    def __init__(self, *args, initializer: bytes, **kwargs) -> None:
        self._initializer = initializer
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == INITIALIZER:
            self._send(200, "application/javascript", self._initializer)
        elif path == HEALTH:
            self._send(200, "text/plain", b"ok")
        else:
            super().do_GET()

    def end_headers(self) -> None:
        # The config (spec URL) may change between runs; never let a browser keep it.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if os.environ.get("SWAGGER_ACCESS_LOG", "0") == "1":
            super().log_message(format, *args)


def make_server(host: str, port: int, spec_url: str, static_dir: Path) -> ThreadingHTTPServer:
    handler = partial(
        SwaggerHandler, directory=str(static_dir), initializer=initializer_js(spec_url)
    )
    return ThreadingHTTPServer((host, port), handler)


def main() -> None:
    from swagger_ui_bundle import swagger_ui_path

    spec_url = os.environ.get("SWAGGER_JSON_URL", DEFAULT_SPEC_URL)
    port = int(os.environ.get("SWAGGER_PORT", "8080"))
    server = make_server("0.0.0.0", port, spec_url, Path(swagger_ui_path))
    # As PID 1 in its container the process has no default SIGTERM action: without a handler
    # `docker stop` waits its 10 s and then kills it.
    signal.signal(signal.SIGTERM, _stop)
    print(f"Swagger UI on :{port}, opening {spec_url}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        print("Swagger UI stopped (SIGTERM)", flush=True)
    finally:
        server.server_close()


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
