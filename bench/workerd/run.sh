#!/usr/bin/env bash
# Benchmark the real Durable Object runtime (workerd) on the counter workload.
#
#   bench/workerd/run.sh [--clients N] [--requests N] [--objects N] [--reps N] [--warmup N]
#                        [--timeout SECONDS] [--json]
#
# Installs workerd (install.sh), starts it on a free 127.0.0.1 port with fresh SQLite storage
# in a temporary folder, runs bench.mjs against it, and always stops workerd and removes the
# storage at the end (normal exit, error, Ctrl-C, SIGTERM, or the hard timeout).
#
# Defaults can also come from the environment: DOSIM_BENCH_CLIENTS (4), DOSIM_BENCH_REQUESTS
# (2000 per client), DOSIM_BENCH_OBJECTS (= clients), DOSIM_BENCH_REPS (3),
# DOSIM_BENCH_WARMUP (200 per client), DOSIM_BENCH_TIMEOUT (120 s, for the whole run).
# Exit status: 0 all checks passed; 1 a correctness check or a step failed; 2 bad usage;
# 124 hard timeout; 130/143 interrupted.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

usage() {
  sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

clients="${DOSIM_BENCH_CLIENTS:-4}"
requests="${DOSIM_BENCH_REQUESTS:-2000}"
objects="${DOSIM_BENCH_OBJECTS:-}"
reps="${DOSIM_BENCH_REPS:-3}"
warmup="${DOSIM_BENCH_WARMUP:-200}"
timeout="${DOSIM_BENCH_TIMEOUT:-120}"
json=()
while (($# > 0)); do
  case "$1" in
    --clients | --requests | --objects | --reps | --warmup | --timeout)
      (($# >= 2)) || usage
      declare "${1#--}=$2"
      shift 2
      ;;
    --json) json=(--json) && shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown argument: $1" >&2 && usage ;;
  esac
done
for setting in clients requests reps timeout ${objects:+objects}; do
  [[ "${!setting}" =~ ^[1-9][0-9]*$ ]] || {
    echo "run.sh: --$setting must be a positive integer, got '${!setting}'" >&2
    exit 2
  }
done
[[ "$warmup" =~ ^[0-9]+$ ]] || {
  echo "run.sh: --warmup must be a non-negative integer, got '$warmup'" >&2
  exit 2
}
command -v node >/dev/null 2>&1 || {
  echo "run.sh: node not found: install Node.js (v18 or later)" >&2
  exit 1
}

bench_pid=""
watchdog_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM USR1
  if [[ -n "$bench_pid" ]]; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  workerd_stop
  if [[ -n "$watchdog_pid" ]]; then
    kill -TERM "$watchdog_pid" 2>/dev/null || true
    wait "$watchdog_pid" 2>/dev/null || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'echo "run.sh: terminated" >&2; exit 143' TERM
trap 'echo "run.sh: hard timeout: still running after ${timeout}s; stopping workerd" >&2; exit 124' USR1

# Install first (bounded by npm's own network timeouts; the hard timeout starts after it).
workerd_install

# The watchdog signals us (USR1) after $timeout seconds; our trap then stops everything.
# The benchmark runs in the background with `wait`, so that the trap runs at once.
(
  trap 'kill "$sleep_pid" 2>/dev/null; exit 0' TERM
  sleep "$timeout" &
  sleep_pid=$!
  wait "$sleep_pid"
  kill -USR1 "$$" 2>/dev/null
) &
watchdog_pid=$!

workerd_start "$here/config.capnp"

echo "machine: $(nproc 2>/dev/null || echo '?') cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1), node $(node --version)"
echo "workerd: $("$WORKERD_BIN" --version) (npm workerd@$(sed -n 's/^WORKERD_VERSION=//p' "$here/install.sh")), compatibilityDate $(sed -n 's/.*compatibilityDate = "\([0-9-]*\)".*/\1/p' "$here/config.capnp"), SQLite-backed storage on local disk"
echo "workerd startup: ${WORKERD_STARTUP_S}s from spawn to first HTTP answer"

node "$here/bench.mjs" --port "$WORKERD_PORT" --clients "$clients" --requests "$requests" \
  --objects "${objects:-$clients}" --reps "$reps" --warmup "$warmup" "${json[@]}" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=""
exit "$status"
