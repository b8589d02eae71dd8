"""Start `azmlinfsrv` (same arguments, same code path) bound to 127.0.0.1 instead of 0.0.0.0.

azureml-inference-server-http 1.5.1 has no option or environment variable for the bind address:
amlserver_linux.run() passes `-b {DEFAULT_HOST}:{port}` to gunicorn on the command line (which
outranks GUNICORN_CMD_ARGS and gunicorn.conf.py), with DEFAULT_HOST = "0.0.0.0" from its
constants module. This launcher sets that constant before the server module imports it, then runs
the console script's entry point, `azureml_inference_server_http.amlserver:run`.
"""

import sys

from azureml_inference_server_http import constants

constants.DEFAULT_HOST = "127.0.0.1"

from azureml_inference_server_http.amlserver import run  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "azmlinfsrv"
    sys.exit(run())
