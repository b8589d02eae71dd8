# shellcheck shell=bash
# Docker helpers for the Compose stack; sourced by scripts/stack.sh, CI and the e2e tests.
#
#   source scripts/docker-env.sh
#   ensure_docker          # install docker.io + docker-compose (apt) if missing; start dockerd
#   ensure_base_image      # export AMLSTACK_BASE_IMAGE: the official python image, or a local one
#                          # (and AMLSTACK_PROXY_BASE_IMAGE: the official haproxy, or the local one)
#   record_base_image      # write that choice into .env, so plain `docker compose up --build` works
#   record_scorer_cpus     # on a 1-CPU machine, write AMLSTACK_SCORER_CPUS=1 into .env
#   compose build|up|...   # `docker compose` (v2) when present, else `docker-compose` (v1)
#   stack_up               # build, start detached, wait until every service is healthy
#   stack_wait_healthy [S] [SERVICE...]  # wait up to S s (default 300) until healthy
#   stack_key              # print the scorer's primary key (from .env or the keys volume)
#   scorer_exec CMD...     # run CMD in one scorer replica
#   stack_logs             # print every service's logs (used when a step fails)
#   stack_down             # stop and remove containers, networks and volumes (-v)
#   tag_build_stage        # name the scorer's training stage image (the legacy builder leaves it
#                          # untagged: a dangling image of about 1 GB)
#   stack_rollout [DIR]    # zero-downtime replacement of the scorer replicas (artifact DIR)

AMLSTACK_ROOT="${AMLSTACK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
AMLSTACK_OFFICIAL_BASE="${AMLSTACK_OFFICIAL_BASE:-python:3.11-slim}"
AMLSTACK_LOCAL_BASE="${AMLSTACK_LOCAL_BASE:-amlstack/base:bookworm}"
AMLSTACK_ENV_FILE="${AMLSTACK_ENV_FILE:-$AMLSTACK_ROOT/.env}"
AMLSTACK_DOCKERD_LOG="${AMLSTACK_DOCKERD_LOG:-/tmp/dockerd.log}"
AMLSTACK_OFFICIAL_PROXY="${AMLSTACK_OFFICIAL_PROXY:-haproxy:3.2}"

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
  if ! command -v dockerd >/dev/null 2>&1; then
    # a docker client without an engine (e.g. a CLI for a remote host): nothing here to start
    _amlstack_log "no Docker engine (dockerd) on this machine; installing docker.io with apt"
    _amlstack_sudo apt-get update -qq
    _amlstack_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
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
  _ensure_python_base || return 1
  _ensure_proxy_base
}

_ensure_proxy_base() {
  # The official haproxy image beside the official python one; else the local base (+ apt).
  AMLSTACK_PROXY_BASE_IMAGE="${AMLSTACK_PROXY_BASE_IMAGE:-$(_amlstack_env_file_value AMLSTACK_PROXY_BASE_IMAGE)}"
  if [ -n "${AMLSTACK_PROXY_BASE_IMAGE:-}" ] && docker image inspect "$AMLSTACK_PROXY_BASE_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  export AMLSTACK_PROXY_BASE_IMAGE="$AMLSTACK_BASE_IMAGE"
  if [ "$AMLSTACK_BASE_IMAGE" = "$AMLSTACK_OFFICIAL_BASE" ] \
    && { docker image inspect "$AMLSTACK_OFFICIAL_PROXY" >/dev/null 2>&1 \
      || timeout 60 docker pull -q "$AMLSTACK_OFFICIAL_PROXY" >/dev/null 2>&1; }; then
    export AMLSTACK_PROXY_BASE_IMAGE="$AMLSTACK_OFFICIAL_PROXY"
  fi
}

_ensure_python_base() {
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
  # Compose reads .env by itself: recording the local base images there makes a plain
  # `docker compose up --build` work offline. The official images are Compose's defaults already.
  _amlstack_record_env AMLSTACK_BASE_IMAGE "${AMLSTACK_BASE_IMAGE:-}" "$AMLSTACK_OFFICIAL_BASE"
  _amlstack_record_env AMLSTACK_PROXY_BASE_IMAGE "${AMLSTACK_PROXY_BASE_IMAGE:-}" \
    "$AMLSTACK_OFFICIAL_PROXY"
}

record_scorer_cpus() {
  # The scorer's CPU limit defaults to 2, and Docker refuses a limit above the machine's CPUs:
  # on a 1-CPU machine, record the machine's count in .env (plain Compose commands read it too).
  local cpus
  [ -n "${AMLSTACK_SCORER_CPUS:-$(_amlstack_env_file_value AMLSTACK_SCORER_CPUS)}" ] && return 0
  cpus="$(docker info --format '{{.NCPU}}' 2>/dev/null)" || return 0
  if [ -n "$cpus" ] && [ "$cpus" -lt 2 ] 2>/dev/null; then
    printf '# Recorded by scripts/stack.sh: Docker sees %s CPU here (the default limit is 2).\nAMLSTACK_SCORER_CPUS=%s\n' \
      "$cpus" "$cpus" >>"$AMLSTACK_ENV_FILE"
    export AMLSTACK_SCORER_CPUS="$cpus"
    _amlstack_log "recorded AMLSTACK_SCORER_CPUS=$cpus in $AMLSTACK_ENV_FILE"
  fi
}

_amlstack_record_env() {
  # NAME=VALUE into .env unless VALUE is empty, the official default, or already recorded.
  local name="$1" image="$2" official="$3"
  if [ -z "$image" ] || [ "$image" = "$official" ] \
    || [ "$(_amlstack_env_file_value "$name")" = "$image" ]; then
    return 0
  fi
  if grep -q "^$name=" "$AMLSTACK_ENV_FILE" 2>/dev/null; then
    sed -i "s|^$name=.*|$name=$image|" "$AMLSTACK_ENV_FILE"
  else
    printf '# Recorded by scripts/stack.sh: %s cannot be pulled here.\n%s=%s\n' \
      "$official" "$name" "$image" >>"$AMLSTACK_ENV_FILE"
  fi
  _amlstack_log "recorded $name=$image in $AMLSTACK_ENV_FILE"
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
  # Every service's recent lines, then the one-line reasons our programs gave for stopping
  # (`amlstack scorer: AMLSTACK_PRIMARY_KEY: ...`), last, where a reader looks first.
  local logs reasons
  logs="$(compose logs --no-color --tail=200 2>&1 || true)"
  printf '%s\n' "$logs" >&2
  reasons="$(printf '%s\n' "$logs" | grep -o 'amlstack [a-z]*: .*' | grep -v '"' | sort -u | tail -n 5 || true)"
  if [ -n "$reasons" ]; then
    _amlstack_log "a service stopped, saying:"
    printf '%s\n' "$reasons" | sed 's/^/  /' >&2
  fi
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
  id="$(docker images -q -f dangling=true -f label=amlstack.stage=trainer | sed -n 1p)"  # sed reads it all: no SIGPIPE under pipefail
  [ -n "$id" ] || return 0
  old="$(docker images -q "$tag")"
  docker tag "$id" "$tag"
  if [ -n "$old" ] && [ "$old" != "$id" ] && [ -z "$(docker image inspect -f '{{.RepoTags}}' "$old" | tr -d '[]')" ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
  # Older builds' stages (a rollout, a build with another artifact) are no one's cache now.
  docker image prune -f --filter label=amlstack.stage=trainer >/dev/null 2>&1 || true
}

stack_up() {
  compose build || { stack_logs; return 1; }
  tag_build_stage
  compose up -d --scale "scorer=${AMLSTACK_SCORER_REPLICAS:-2}" || { stack_logs; return 1; }
  stack_wait_healthy "${AMLSTACK_HEALTH_TIMEOUT:-300}"
}

scorer_exec() {
  # Run a command in one scorer replica (`compose exec` wants replica 1, gone after a rollout).
  local id
  id="$(compose ps -q scorer | sed -n 1p)"  # sed reads it all: no SIGPIPE under pipefail
  [ -n "$id" ] || { _amlstack_log "no scorer container is running"; return 1; }
  docker exec -i "$id" "$@"
}

stack_key() {
  # The key the scorer uses: AMLSTACK_PRIMARY_KEY (from .env) wins over the generated key file.
  scorer_exec python3 -c 'import json, os
print(os.environ.get("AMLSTACK_PRIMARY_KEY") or json.load(open(os.environ["AMLSTACK_KEY_FILE"]))["primaryKey"])'
}

stack_down() {
  compose down -v --remove-orphans
}

# --- Zero-downtime rollout of the scorer replicas behind the proxy ---------------------------
# New replicas start beside the old ones (same service, new image); once Docker reports them
# healthy and the proxy has them UP, the old ones are drained in the proxy (no new requests,
# in-flight ones finish), stopped (gunicorn drains what it accepted) and removed. A new replica
# that never gets healthy is removed again and the old ones keep serving.

_proxy_admin() {
  # One command to HAProxy's runtime API (127.0.0.1:8406 inside the proxy container).
  compose exec -T proxy bash -c 'exec 3<>/dev/tcp/127.0.0.1/8406 && printf "%s\n" "$1" >&3 && cat <&3' \
    proxy-admin "$1"
}

_proxy_servers() {
  # "name addr status current-sessions" for each server slot of the scorers backend.
  _proxy_admin "show stat" | awk -F, '$1 == "scorers" && $2 != "BACKEND" {print $2, $74, $18, $5}'
}

_container_addr() {
  docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"
}

_rollout_wait_healthy() {
  # Wait until every container in $1 runs and the proxy's health check (/ready every second)
  # has it UP: that check decides where traffic goes. Docker's own healthcheck, a new Python
  # process every 5 s, lags behind it and times out on a busy machine. 1 on timeout.
  local ids="$1" deadline id state addr
  deadline=$(($(date +%s) + ${AMLSTACK_HEALTH_TIMEOUT:-300}))
  for id in $ids; do
    while :; do
      state="$(docker inspect -f '{{.State.Status}}' "$id" 2>/dev/null || echo gone)"
      case "$state" in
        running)
          addr="$(_container_addr "$id")"
          _proxy_servers | grep -q " $addr:5001 UP " && break
          ;;
        *)
          _amlstack_log "new scorer ${id:0:12} stopped: $state"
          return 1
          ;;
      esac
      if [ "$(date +%s)" -ge "$deadline" ]; then
        _amlstack_log "new scorer ${id:0:12} not healthy in time: $state"
        return 1
      fi
      sleep 1
    done
  done
}

_rollout_drain() {
  # Take the old containers' addresses out of the proxy and wait until their requests finish.
  local ids="$1" id addr name deadline
  for id in $ids; do
    addr="$(_container_addr "$id")"
    name="$(_proxy_servers | awk -v a="$addr:5001" '$2 == a {print $1}')"
    [ -n "$name" ] && _proxy_admin "set server scorers/$name state drain" >/dev/null
  done
  deadline=$(($(date +%s) + ${AMLSTACK_DRAIN_TIMEOUT:-30}))
  for id in $ids; do
    addr="$(_container_addr "$id")"
    while _proxy_servers | awk -v a="$addr:5001" '$2 == a && $4 > 0 {found = 1} END {exit !found}'; do
      [ "$(date +%s)" -ge "$deadline" ] && break
      sleep 0.2
    done
  done
}

_rollout_wait_gone() {
  # Until DNS has dropped the removed replicas' addresses from the proxy's slots (max 15 s):
  # a drain flag cleared earlier would send requests to an address nobody answers.
  local addrs="$1" addr deadline
  deadline=$(($(date +%s) + 15))
  for addr in $addrs; do
    while _proxy_servers | grep -q " $addr:5001 " && [ "$(date +%s)" -lt "$deadline" ]; do
      sleep 0.5
    done
  done
}

_rollout_release_slots() {
  # A drained slot takes the next replica's address later, and the drain flag would stay with
  # it: clear the flag on every slot (it leaves DNS and health states alone).
  local name
  for name in $(_proxy_servers | awk '{print $1}'); do
    _proxy_admin "set server scorers/$name state ready" >/dev/null
  done
}

stack_rollout() {
  local artifact="${1:-}" replicas old all new id old_addrs
  if [ -n "$artifact" ]; then
    artifact="$(cd "$artifact" && pwd)" || return 1
    case "$artifact/" in
      "$AMLSTACK_ROOT"/*) export AMLSTACK_MODEL_DIR_BUILD="${artifact#"$AMLSTACK_ROOT"/}" ;;
      *)
        _amlstack_log "$artifact is outside the build context $AMLSTACK_ROOT"
        return 2
        ;;
    esac
  fi
  replicas="${AMLSTACK_SCORER_REPLICAS:-2}"
  old="$(compose ps -q scorer)"
  if [ -z "$old" ]; then
    _amlstack_log "no scorer is running; start the stack with scripts/stack.sh up"
    return 1
  fi
  # Built while the old replicas serve: only the switch below touches traffic.
  compose build scorer || return 1
  tag_build_stage
  compose up -d --no-deps --no-recreate --scale "scorer=$(($(wc -w <<<"$old") + replicas))" scorer \
    || return 1
  all="$(compose ps -q scorer)"
  new="$(grep -vxF -f <(tr ' ' '\n' <<<"$old") <<<"$all" || true)"
  _amlstack_log "new scorer replicas: $(tr '\n' ' ' <<<"$new")"
  _rollout_release_slots
  if ! _rollout_wait_healthy "$new"; then
    _amlstack_log "rollout aborted: the old replicas keep serving"
    for id in $new; do docker logs --tail 5 "$id" >&2 2>&1 || true; done
    # shellcheck disable=SC2086
    docker rm -f $new >/dev/null
    return 1
  fi
  old_addrs="$(for id in $old; do _container_addr "$id"; done)"
  _rollout_drain "$old"
  # shellcheck disable=SC2086
  docker stop -t "${AMLSTACK_STOP_TIMEOUT:-30}" $old >/dev/null
  # shellcheck disable=SC2086
  docker rm $old >/dev/null
  _rollout_wait_gone "$old_addrs"
  _rollout_release_slots
  _amlstack_log "rollout done: $(wc -w <<<"$new") new replicas serve"
}
