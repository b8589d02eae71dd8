#!/usr/bin/env bash
# The test command (README): sets up a fresh Debian/Ubuntu machine and runs every suite —
# lint, code, data and model suites, the slow ones, and the end-to-end Compose stack tests
# (Docker engine, local base image when no registry answers, headless Chromium).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
started=$(date +%s)

log() { echo "== $* ($(($(date +%s) - started))s)" >&2; }

# 1. System packages: Docker engine + Compose v1, debootstrap (offline base image),
#    Chromium + ChromeDriver (Swagger UI test), wrk + ab (scorer benchmarks).
packages=()
have() { command -v "$1" >/dev/null 2>&1; }
have dockerd || packages+=(docker.io)
have docker-compose || docker compose version >/dev/null 2>&1 || packages+=(docker-compose)
have debootstrap || packages+=(debootstrap)
have chromium || packages+=(chromium)
have chromedriver || packages+=(chromium-driver)
have wrk || packages+=(wrk)
have ab || packages+=(apache2-utils)
have java || packages+=(default-jre-headless)  # pyspark (predict --engine spark tests)
if [ ${#packages[@]} -gt 0 ]; then
  log "apt-get install ${packages[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# 2. The project in its own virtual environment, with every extra the tests exercise.
log "python environment"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[train,azure,loadtest,telemetry,dev]"
export PATH="$ROOT/.venv/bin:$PATH"
# kserve's client pins pandas/protobuf/psutil below the project's, so it gets a venv of its own
# (tests/code/scorer/test_v2_clients.py runs tests/clients/kserve_v2_client.py there).
[ -x .venv-kserve/bin/python ] || python3 -m venv .venv-kserve
.venv-kserve/bin/python -m pip install -q -r tests/clients/requirements-kserve.txt
export AMLSTACK_KSERVE_PYTHON="$ROOT/.venv-kserve/bin/python"

# 3. Lint and format.
log "ruff"
ruff check .
ruff format --check .

# 4. Docker engine and base image for the end-to-end suite (tests/e2e brings the stack up).
log "docker"
# shellcheck source=scripts/docker-env.sh
source scripts/docker-env.sh
ensure_docker
ensure_base_image
export AMLSTACK_BASE_IMAGE

# 5. Every suite in one pytest run: code, data, model, slow and e2e (all of them, in CI too).
log "pytest"
python -m pytest tests "$@"
log "done"
