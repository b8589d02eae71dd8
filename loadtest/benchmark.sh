#!/usr/bin/env bash
# Apache Bench against a scoring endpoint, for any URL and key (Azure's or the local stack's).
#
#   loadtest/benchmark.sh URL [KEY] [-n REQUESTS] [-c CONCURRENCY] [-p PAYLOAD]
#
# URL is the scoring URL (http://127.0.0.1:5001/score, or an Azure endpoint's scoring URI; a bare
# host gets /score). KEY defaults to $AMLSTACK_PRIMARY_KEY; pass "-" for a scorer run with
# AMLSTACK_AUTH=none. PAYLOAD defaults to data.json, written by `amlstack score`. Bounded: at most
# 100000 requests and a 120 s time limit. ab is in Debian's apache2-utils.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 && $1 != -h && $1 != --help ]] || usage
url=$1; shift
key=${AMLSTACK_PRIMARY_KEY:-}
if [[ $# -ge 1 && $1 != -* ]]; then key=$1; shift; fi
requests=100 concurrency=1 payload=data.json
while getopts "n:c:p:" opt; do
  case $opt in
    n) requests=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    p) payload=$OPTARG ;;
    *) usage ;;
  esac
done

command -v ab >/dev/null || { echo "benchmark.sh: ab not found (apt-get install apache2-utils)" >&2; exit 2; }
[[ -f $payload ]] || { echo "benchmark.sh: $payload not found; run 'amlstack score' first" >&2; exit 2; }
[[ $requests =~ ^[0-9]+$ && $requests -ge 1 && $requests -le 100000 ]] \
  || { echo "benchmark.sh: -n must be 1..100000" >&2; exit 2; }
[[ $concurrency =~ ^[0-9]+$ && $concurrency -ge 1 && $concurrency -le $requests ]] \
  || { echo "benchmark.sh: -c must be 1..n" >&2; exit 2; }
[[ $url == http://* || $url == https://* ]] || { echo "benchmark.sh: URL must be http(s)" >&2; exit 2; }
[[ $url =~ ^https?://[^/]+/?$ ]] && url="${url%/}/score"

args=(-t 120 -n "$requests" -c "$concurrency" -s 30 -p "$payload" -T application/json)
if [[ -n $key && $key != - ]]; then
  args+=(-H "Authorization: Bearer $key")
elif [[ $key != - ]]; then
  echo "benchmark.sh: no key (pass KEY, set AMLSTACK_PRIMARY_KEY, or '-' for no auth)" >&2
  exit 2
fi
exec ab "${args[@]}" "$url"
