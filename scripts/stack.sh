#!/usr/bin/env bash
# Run the local stack on a fresh machine: scorer :5001, Swagger UI :8080, Locust :8089,
# the UI :8090, Prometheus :9090.
#
#   scripts/stack.sh [up]     install/start Docker if needed, build, start, wait until healthy
#   scripts/stack.sh key      print the scoring key
#   scripts/stack.sh logs     follow the logs
#   scripts/stack.sh down     stop and remove everything, the generated key included (-v)
#
# Without a reachable registry, a local base image is built first (scripts/build-base-image.sh).
set -euo pipefail
# shellcheck source=scripts/docker-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-env.sh"

case "${1:-up}" in
  up)
    ensure_docker
    ensure_base_image
    _amlstack_log "base image: $AMLSTACK_BASE_IMAGE"
    stack_up
    cat <<MSG

The stack is up:
  scorer      http://localhost:${AMLSTACK_SCORER_PORT:-5001}/score   (POST, Authorization: Bearer <key>)
  Swagger UI  http://localhost:${AMLSTACK_SWAGGER_PORT:-8080}/          (Authorize with "Bearer <key>")
  Locust      http://localhost:${AMLSTACK_LOCUST_PORT:-8089}/
  UI          http://localhost:${AMLSTACK_UI_PORT:-8090}/          (score, files, model card, insights)
  Prometheus  http://localhost:${AMLSTACK_PROMETHEUS_PORT:-9090}/
The key:      scripts/stack.sh key
Tear down:    scripts/stack.sh down
MSG
    ;;
  key) stack_key ;;
  logs) compose logs -f ;;
  down)
    ensure_docker
    stack_down
    ;;
  *)
    echo "usage: $0 [up|key|logs|down]" >&2
    exit 2
    ;;
esac
