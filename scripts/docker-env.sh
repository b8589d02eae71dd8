# shellcheck shell=bash
# Docker helpers for the Compose stack; sourced by scripts/stack.sh, CI and the e2e tests.
#
#   source scripts/docker-env.sh
#   ensure_docker          # install docker.io + docker-compose (apt) if missing; start dockerd
#   ensure_base_image      # export AMLSTACK_BASE_IMAGE: the official python image, or a local one
#   record_base_image      # write that choice into .env, so plain `docker compose up --build` works
#   compose build|up|...   # `docker compose` (v2) when present, else `docker-compose` (v1)
#   stack_up               # build, start detached, wait until every service is healthy
#   stack_wait_healthy [S] [SERVICE...]  # wait up to S s (default 300) until healthy
#   stack_key              # print the scorer's primary key (from .env or the keys volume)
#   stack_logs             # print every service's logs (used when a step fails)
#   stack_down             # stop and remove containers, networks and volumes (-v)
#   tag_build_stage        # name the scorer's training stage image (the legacy builder leaves it
#                          # untagged: a dangling image of about 1 GB)

AMLSTACK_ROOT="${AMLSTACK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
AMLSTACK_OFFICIAL_BASE="${AMLSTACK_OFFICIAL_BASE:-python:3.11-slim}"
AMLSTACK_LOCAL_BASE="${AMLSTACK_LOCAL_BASE:-amlstack/base:bookworm}"
AMLSTACK_ENV_FILE="${AMLSTACK_ENV_FILE:-$AMLSTACK_ROOT/.env}"
AMLSTACK_DOCKERD_LOG="${AMLSTACK_DOCKERD_LOG:-/tmp/dockerd.log}"

_amlstack_log() { echo "amlstack: $*" >&2; }

_amlstack_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_docker() {
  if ! command -v docker >/dev/null 2>&1 || ! { command -v docker-compose >/dev/null 2>&1 \
    || docker compose version >/dev/null 2>&1; }; then
    _amlstack_log "installing Docker (docker.io docker-compose) with apt"
    _amlstack_sudo apt-get update -qq
    _amlstack_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose
  fi
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  _amlstack_log "starting dockerd (log: $AMLSTACK_DOCKERD_LOG)"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    _amlstack_sudo systemctl start docker || true
  fi
  if ! docker info >/dev/null 2>&1; then
    _amlstack_start_dockerd
  fi
  local _
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  _amlstack_log "dockerd did not start within 60 s; see $AMLSTACK_DOCKERD_LOG"
  tail -n 20 "$AMLSTACK_DOCKERD_LOG" >&2 2>/dev/null || true
  return 1
}

_amlstack_start_dockerd() {
  # dockerd is exec'd in its own session, not run from a subshell of this script: otherwise a
  # long-lived copy of the calling shell (named after the script) stays its parent.
  if [ "$(id -u)" -eq 0 ]; then
    setsid dockerd >"$AMLSTACK_DOCKERD_LOG" 2>&1 </dev/null &
  else
    sudo -b sh -c "exec setsid dockerd >'$AMLSTACK_DOCKERD_LOG' 2>&1 </dev/null"
  fi
}

_amlstack_env_file_value() {
  # The value of NAME in .env (Compose's own settings file), or nothing.
  [ -f "$AMLSTACK_ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$AMLSTACK_ENV_FILE" | tail -n 1
}

ensure_base_image() {
  # Keep an explicit choice (environment, else .env) when that image is there; else prefer the
  # official image.
  AMLSTACK_BASE_IMAGE="${AMLSTACK_BASE_IMAGE:-$(_amlstack_env_file_value AMLSTACK_BASE_IMAGE)}"
  if [ -n "${AMLSTACK_BASE_IMAGE:-}" ] && docker image inspect "$AMLSTACK_BASE_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  if docker image inspect "$AMLSTACK_OFFICIAL_BASE" >/dev/null 2>&1 \
    || timeout 60 docker pull -q "$AMLSTACK_OFFICIAL_BASE" >/dev/null 2>&1; then
    export AMLSTACK_BASE_IMAGE="$AMLSTACK_OFFICIAL_BASE"
    return 0
  fi
  if ! docker image inspect "$AMLSTACK_LOCAL_BASE" >/dev/null 2>&1; then
    _amlstack_log "$AMLSTACK_OFFICIAL_BASE cannot be pulled; building $AMLSTACK_LOCAL_BASE locally"
    bash "$AMLSTACK_ROOT/scripts/build-base-image.sh" "$AMLSTACK_LOCAL_BASE" || return 1
  fi
  export AMLSTACK_BASE_IMAGE="$AMLSTACK_LOCAL_BASE"
}

record_base_image() {
  # Compose reads .env by itself: recording a local base image there makes a plain
  # `docker compose up --build` work offline. The official image is Compose's default already.
  local image="${AMLSTACK_BASE_IMAGE:-}"
  if [ -z "$image" ] || [ "$image" = "$AMLSTACK_OFFICIAL_BASE" ] \
    || [ "$(_amlstack_env_file_value AMLSTACK_BASE_IMAGE)" = "$image" ]; then
    return 0
  fi
  if grep -q '^AMLSTACK_BASE_IMAGE=' "$AMLSTACK_ENV_FILE" 2>/dev/null; then
    sed -i "s|^AMLSTACK_BASE_IMAGE=.*|AMLSTACK_BASE_IMAGE=$image|" "$AMLSTACK_ENV_FILE"
  else
    printf '# Recorded by scripts/stack.sh: %s cannot be pulled here.\nAMLSTACK_BASE_IMAGE=%s\n' \
      "$AMLSTACK_OFFICIAL_BASE" "$image" >>"$AMLSTACK_ENV_FILE"
  fi
  _amlstack_log "recorded AMLSTACK_BASE_IMAGE=$image in $AMLSTACK_ENV_FILE"
}

compose() {
  # Compose v2 (the docker CLI plugin) for users, Debian's docker-compose 1.29 in CI.
  local args=(-f "$AMLSTACK_ROOT/docker-compose.yml" --project-directory "$AMLSTACK_ROOT")
  if [ -n "${AMLSTACK_COMPOSE_PROJECT:-}" ]; then
    args+=(-p "$AMLSTACK_COMPOSE_PROJECT")
  fi
  if docker compose version >/dev/null 2>&1; then
    docker compose "${args[@]}" "$@"
  else
    docker-compose "${args[@]}" "$@"
  fi
}

stack_logs() {
  compose logs --no-color --tail=200 >&2 || true
}

stack_wait_healthy() {
  # Optional service names after the timeout: wait for those only (e.g. the ones just scaled).
  local timeout_s="${1:-300}" deadline ids id state pending
  [ $# -gt 0 ] && shift
  deadline=$(($(date +%s) + timeout_s))
  while :; do
    ids="$(compose ps -q "$@")"
    pending=""
    if [ -z "$ids" ]; then pending="(no containers)"; fi
    for id in $ids; do
      state="$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")"
      case "$state" in
        *" running healthy" | *" running none") ;;
        *" exited "* | *" dead "*)
          _amlstack_log "container stopped: $state"
          stack_logs
          return 1
          ;;
        *) pending="$pending ${state%% *}" ;;
      esac
    done
    [ -z "$pending" ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      _amlstack_log "not healthy after ${timeout_s}s:$pending"
      stack_logs
      return 1
    fi
    sleep 2
  done
}

tag_build_stage() {
  # The legacy builder (Compose v1) keeps the scorer's "trainer" stage as an untagged image; it
  # is the training cache that makes rebuilds fast, so it gets a name instead of being deleted.
  # The image the name pointed at before (an earlier build's) is removed once nothing names it.
  local tag="amlstack/scorer-build:${AMLSTACK_TAG:-local}" id old
  id="$(docker images -q -f dangling=true -f label=amlstack.stage=trainer | head -n 1)"
  [ -n "$id" ] || return 0
  old="$(docker images -q "$tag")"
  docker tag "$id" "$tag"
  if [ -n "$old" ] && [ "$old" != "$id" ] && [ -z "$(docker image inspect -f '{{.RepoTags}}' "$old" | tr -d '[]')" ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
}

stack_up() {
  compose build || { stack_logs; return 1; }
  tag_build_stage
  compose up -d || { stack_logs; return 1; }
  stack_wait_healthy "${AMLSTACK_HEALTH_TIMEOUT:-300}"
}

stack_key() {
  # The key the scorer uses: AMLSTACK_PRIMARY_KEY (from .env) wins over the generated key file.
  compose exec -T scorer python3 -c 'import json, os
print(os.environ.get("AMLSTACK_PRIMARY_KEY") or json.load(open(os.environ["AMLSTACK_KEY_FILE"]))["primaryKey"])'
}

stack_down() {
  compose down -v --remove-orphans
}
