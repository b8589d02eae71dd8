#!/usr/bin/env bash
# Run the local stack on a fresh machine: scorer :5001, Swagger UI :8080, Locust :8089,
# the UI :8090, Prometheus :9090.
#
#   scripts/stack.sh [up]                 install/start Docker if needed, build, start, wait
#                                         until healthy; records a local base image in .env
#   scripts/stack.sh key                  print the scoring key
#   scripts/stack.sh ps                   the stack's containers and their health
#   scripts/stack.sh logs [OPTIONS] [SERVICE...]   Compose logs (-f follows, --tail=N)
#   scripts/stack.sh scale SERVICE=N ...  run N containers of a service (e.g. locust-worker=4)
#   scripts/stack.sh model DIR            copy the model the scorer serves into DIR (an artifact)
#   scripts/stack.sh down                 stop and remove everything, volumes too (-v: the key, metrics, UI jobs)
#   scripts/stack.sh rollout [DIR]        replace the scorer replicas with a freshly built image
#                                         (serving artifact DIR, a folder in the repository)
#                                         without failing requests
#   scripts/stack.sh compose ARGS...      any other Compose command
#
# Every subcommand runs Compose v2 (`docker compose`) when installed, else Debian's
# `docker-compose` 1.29 (what the set-up installs: Debian 12 carries no Compose v2 package).
# Without a reachable registry, a local base image is built first (scripts/build-base-image.sh).
set -euo pipefail
# shellcheck source=scripts/docker-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-env.sh"

cmd_up() {
  ensure_docker
  ensure_base_image
  record_base_image
  record_scorer_cpus
  _amlstack_log "base image: $AMLSTACK_BASE_IMAGE"
  stack_up
  cat <<MSG

The stack is up:
  scorer      http://localhost:${AMLSTACK_SCORER_PORT:-5001}/score   (POST, Authorization: Bearer <key>)
  Swagger UI  http://localhost:${AMLSTACK_SWAGGER_PORT:-8080}/          (Authorize with "Bearer <key>")
  Locust      http://localhost:${AMLSTACK_LOCUST_PORT:-8089}/
  UI          http://localhost:${AMLSTACK_UI_PORT:-8090}/          (score, files, model card, insights)
  Prometheus  http://localhost:${AMLSTACK_PROMETHEUS_PORT:-9090}/
The key:      bash scripts/stack.sh key
Logs:         bash scripts/stack.sh logs -f scorer
Tear down:    bash scripts/stack.sh down
MSG
}

cmd_scale() {
  if [ $# -eq 0 ]; then
    echo "usage: $0 scale SERVICE=N ..." >&2
    exit 2
  fi
  local args=() services=() spec
  for spec in "$@"; do
    if [[ ! "$spec" =~ ^[a-z0-9-]+=[0-9]+$ ]]; then
      echo "scale: '$spec' is not SERVICE=N (e.g. locust-worker=4)" >&2
      exit 2
    fi
    args+=(--scale "$spec")
    services+=("${spec%%=*}")
  done
  ensure_docker
  compose up -d --no-deps --no-recreate "${args[@]}" "${services[@]}"
  stack_wait_healthy "${AMLSTACK_HEALTH_TIMEOUT:-300}" "${services[@]}"
}

cmd_model() {
  local dest="${1:-}" id
  if [ -z "$dest" ]; then
    echo "usage: $0 model DIR" >&2
    exit 2
  fi
  # Replace only an earlier copy (an artifact folder), never some other folder.
  if [ -e "$dest" ] && [ ! -f "$dest/MANIFEST.json" ]; then
    echo "model: $dest exists and is not an artifact folder" >&2
    exit 2
  fi
  id="$(compose ps -q scorer | sed -n 1p)"  # sed reads it all: no SIGPIPE under pipefail
  if [ -z "$id" ]; then
    echo "model: the scorer is not running (bash scripts/stack.sh up)" >&2
    exit 1
  fi
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  docker cp "$id:/app/model" "$dest"
  echo "$dest"
}

usage() {
  echo "usage: $0 [up|key|ps|logs|scale|model|rollout|down|compose] [ARGS...]" >&2
  exit 2
}

main() {
  local command="${1:-up}"
  [ $# -gt 0 ] && shift
  case "$command" in
    up) cmd_up ;;
    key) stack_key ;;
    ps) compose ps "$@" ;;
    logs) compose logs "$@" ;;
    scale) cmd_scale "$@" ;;
    model) cmd_model "$@" ;;
    rollout) ensure_docker && ensure_base_image && stack_rollout "${1:-}" ;;
    down) ensure_docker && stack_down ;;
    compose) compose "$@" ;;
    -h | --help | help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) usage ;;
  esac
}

main "$@"
