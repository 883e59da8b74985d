# shellcheck shell=bash
# Install / start / stop helpers for workerd, to be sourced by bash scripts:
#
#   . bench/workerd/lib.sh
#   trap workerd_stop EXIT            # or call it from your own EXIT trap
#   workerd_start path/to/config.capnp
#   curl "http://127.0.0.1:$WORKERD_PORT/..."
#   workerd_stop
#
# Conventions for a config used with workerd_start:
#   - it has a socket named "http"; it is rebound to 127.0.0.1 on a free port chosen by the
#     kernel (-s http=127.0.0.1:0), and workerd reports that port on a control descriptor;
#   - durable storage, if any, is a disk service named "storage"; it is pointed at a fresh
#     empty temporary directory (-d storage=DIR), removed again by workerd_stop.
#
# workerd_start sets (call it directly, not inside $(...), so these survive):
#   WORKERD_BIN      the binary (installed by install.sh unless already set)
#   WORKERD_PID      its process id; it runs in its own process group (and session) when possible
#   WORKERD_PORT     the loopback port it listens on
#   WORKERD_RUN_DIR  temporary folder: storage/ (the durable storage), log (stdout+stderr), control
#   WORKERD_STARTUP_S  seconds from spawn to first HTTP answer
# and prints "workerd: pid N, port P ..." on stderr.
#
# Settings (environment):
#   WORKERD_START_TIMEOUT  seconds to wait for the first HTTP answer (default 15)
#   WORKERD_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL on stop (default 5)

WORKERD_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORKERD_PID=""
WORKERD_PORT=""
WORKERD_RUN_DIR=""

# Install workerd if needed and set WORKERD_BIN.
workerd_install() {
  local out
  out="$(bash "$WORKERD_LIB_DIR/install.sh")" || return 1
  WORKERD_BIN="$(printf '%s\n' "$out" | tail -n 1)"
  [[ -x "$WORKERD_BIN" ]] || {
    echo "workerd_install: install.sh did not give a binary (got: $WORKERD_BIN)" >&2
    return 1
  }
}

# Answer of an HTTP GET to 127.0.0.1:$1/health: succeeds on any HTTP response, whatever its status.
_workerd_answers() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/health"
  else
    node -e '
      const req = require("http").get({ host: "127.0.0.1", port: +process.argv[1], path: "/health", timeout: 2000 },
        (res) => { res.resume(); process.exit(0); });
      req.on("error", () => process.exit(1));
      req.on("timeout", () => { req.destroy(); process.exit(1); });' "$1"
  fi
}

# workerd_start CONFIG [EXTRA_WORKERD_ARGS...]
# Start `workerd serve CONFIG` on a free loopback port with fresh storage; wait until it answers.
workerd_start() {
  local config="${1:?usage: workerd_start CONFIG [workerd args...]}"
  shift
  if [[ -n "$WORKERD_PID" ]]; then
    echo "workerd_start: workerd already started (pid $WORKERD_PID); call workerd_stop first" >&2
    return 1
  fi
  [[ -f "$config" ]] || {
    echo "workerd_start: no config file $config" >&2
    return 1
  }
  if [[ -z "${WORKERD_BIN:-}" ]]; then
    workerd_install || return 1
  fi

  WORKERD_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dosim-workerd.XXXXXX")" || return 1
  mkdir "$WORKERD_RUN_DIR/storage"
  : >"$WORKERD_RUN_DIR/control"

  local -a cmd=("$WORKERD_BIN" serve "$config"
    --socket-addr http=127.0.0.1:0
    --directory-path "storage=$WORKERD_RUN_DIR/storage"
    --control-fd 3 "$@")
  local t0 now
  t0="$(date +%s.%N)"
  # Its own session (so its own process group) unless job control already gives it a group:
  # then stopping it never signals us, and a Ctrl-C on the terminal does not reach it directly.
  if [[ $- != *m* ]] && command -v setsid >/dev/null 2>&1; then
    setsid "${cmd[@]}" 3>"$WORKERD_RUN_DIR/control" >"$WORKERD_RUN_DIR/log" 2>&1 </dev/null &
  else
    "${cmd[@]}" 3>"$WORKERD_RUN_DIR/control" >"$WORKERD_RUN_DIR/log" 2>&1 </dev/null &
  fi
  WORKERD_PID=$!

  local timeout="${WORKERD_START_TIMEOUT:-15}" waited=0
  while :; do
    if ! kill -0 "$WORKERD_PID" 2>/dev/null; then
      echo "workerd_start: workerd exited during startup; its log:" >&2
      sed 's/^/  | /' "$WORKERD_RUN_DIR/log" >&2
      workerd_stop
      return 1
    fi
    if [[ -z "$WORKERD_PORT" ]]; then
      WORKERD_PORT="$(sed -n 's/.*"socket":"http","port":\([0-9][0-9]*\).*/\1/p' "$WORKERD_RUN_DIR/control" | head -n 1)"
    fi
    if [[ -n "$WORKERD_PORT" ]] && _workerd_answers "$WORKERD_PORT"; then
      break
    fi
    # 20 polls a second; `waited` counts polls.
    if ((waited >= timeout * 20)); then
      echo "workerd_start: no HTTP answer from workerd within ${timeout}s (port: ${WORKERD_PORT:-not reported}); its log:" >&2
      sed 's/^/  | /' "$WORKERD_RUN_DIR/log" >&2
      workerd_stop
      return 1
    fi
    sleep 0.05
    waited=$((waited + 1))
  done
  now="$(date +%s.%N)"
  WORKERD_STARTUP_S="$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')"
  echo "workerd: pid $WORKERD_PID, port $WORKERD_PORT on 127.0.0.1, answering after ${WORKERD_STARTUP_S}s, storage in $WORKERD_RUN_DIR/storage" >&2
}

# workerd_stop: stop the workerd started by workerd_start (SIGTERM, then SIGKILL after
# WORKERD_STOP_TIMEOUT seconds) and remove its temporary folder. Safe to call more than once,
# and when nothing was started.
workerd_stop() {
  if [[ -n "$WORKERD_PID" ]]; then
    local target="$WORKERD_PID" pgid i
    # Signal the whole group only when workerd leads its own group (never our own group).
    pgid="$(ps -o pgid= -p "$WORKERD_PID" 2>/dev/null | tr -d ' ' || true)"
    if [[ "$pgid" == "$WORKERD_PID" ]]; then
      target="-$WORKERD_PID"
    fi
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < ${WORKERD_STOP_TIMEOUT:-5} * 20; i++)); do
      kill -0 "$WORKERD_PID" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$WORKERD_PID" 2>/dev/null; then
      echo "workerd_stop: workerd (pid $WORKERD_PID) ignored SIGTERM; sending SIGKILL" >&2
      kill -KILL -- "$target" 2>/dev/null || true
    fi
    wait "$WORKERD_PID" 2>/dev/null || true
    WORKERD_PID=""
    WORKERD_PORT=""
  fi
  if [[ -n "$WORKERD_RUN_DIR" ]]; then
    rm -rf "$WORKERD_RUN_DIR"
    WORKERD_RUN_DIR=""
  fi
}
