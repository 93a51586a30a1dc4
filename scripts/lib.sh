# Shared by the kill -9 and fault scripts (kill9-scorer.sh,
# kill9-scorer-clickhouse.sh, faults-scorer.sh, kill9-bridge.sh,
# kill9-writeback.sh): sourced, not run.
#
# The caller sets, before it calls anything here:
#   LIB_NAME  the name its log lines start with
#   START     $SECONDS at its start
#   work      its work directory (binaries in it, logs and data below it)
#   status    1 until it passed (finish_work keeps $work unless it is 0)
# and, for the scorer helpers, addr (the broker), RULES and group.

# log MESSAGE...: one line on stderr, with the seconds since START.
log() { printf '%s [%3ds] %s\n' "$LIB_NAME" $((SECONDS - START)) "$*" >&2; }
# fail MESSAGE...: logs it and exits 1 (the EXIT trap cleans up).
fail() {
  log "FAIL: $*"
  exit 1
}

# stop_pid PID SIGNAL SECONDS: SIGNAL, then SIGKILL after the grace period;
# nothing when PID is empty or gone.
stop_pid() {
  local pid=$1 sig=$2 grace=$3
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq $((grace * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# kill9 PID: SIGKILL and reap (an error if PID is already gone).
kill9() {
  kill -KILL "$1"
  wait "$1" 2>/dev/null || true
}

# term_wait PID SECONDS WHAT: SIGTERM; fails unless PID exits 0 within
# SECONDS. Sets stop_ms to the time it took.
term_wait() {
  local pid=$1 secs=$2 what=$3 t0 rc=0
  t0=$(date +%s%N)
  kill -TERM "$pid"
  for _ in $(seq $((secs * 20))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && fail "$what did not stop within $secs s of SIGTERM"
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "$what exited $rc after SIGTERM"
  stop_ms=$((($(date +%s%N) - t0) / 1000000))
}

# finish_work: for the EXIT trap; removes $work after a pass (unless KEEP),
# says where it is otherwise.
finish_work() {
  if [[ $status -eq 0 && -z "${KEEP:-}" ]]; then
    rm -rf "$work"
  else
    log "logs and data kept in $work"
  fi
}

# sleep_ms MS
sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }

# port_busy PORT: whether something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# build NAME...: go build ./cmd/NAME into $work/NAME.
build() {
  local b
  for b in "$@"; do go build -o "$work/$b" "./cmd/$b"; done
}

# start_localkafka PARTITIONS: $work/localkafka on a free loopback port,
# data in $work/kafka; sets broker_pid and addr.
start_localkafka() {
  "$work/localkafka" --addr 127.0.0.1:0 --data-dir "$work/kafka" --partitions "$1" --seed-topics "" \
    >"$work/broker.ready" 2>"$work/broker.log" &
  broker_pid=$!
  for _ in $(seq 100); do
    grep -q "ready on" "$work/broker.ready" 2>/dev/null && break
    kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log" >&2; fail "localkafka exited"; }
    sleep 0.1
  done
  addr=$(sed -n 's/^localkafka ready on \([^ ]*\).*/\1/p' "$work/broker.ready")
  [[ -n "$addr" ]] || fail "localkafka did not become ready"
}

# metric_sum HOSTPORT NAME: the sum of NAME's series (NAME and NAME{...})
# at http://HOSTPORT/metrics; 0 when there are none or no answer.
metric_sum() {
  { curl -sf --max-time 2 "http://$1/metrics" || true; } |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'
}

# metric_value HOSTPORT SERIES [DEFAULT]: the value of the one series
# SERIES (a name, or a name with its labels as exposed) at
# http://HOSTPORT/metrics; DEFAULT (empty) when it is not there.
metric_value() {
  { curl -sf --max-time 2 "http://$1/metrics" || true; } |
    awk -v n="$2" -v d="${3:-}" '$1 == n { print $2 + 0; f = 1 } END { if (!f) print d }'
}

# group_lag BROKERS GROUP [TOPIC]: the group's committed lag (scorer state
# lag, $work/scorer), empty when it cannot be read.
group_lag() {
  local topic=()
  [[ -n "${3:-}" ]] && topic=(--topic "$3")
  { "$work/scorer" state lag --brokers "$1" "${topic[@]}" --group "$2" 2>/dev/null || true; } |
    sed -n 's/^total lag //p'
}

# settled TRIES SECONDS CHECK...: runs CHECK every SECONDS until it holds
# at three checks in a row (status 0) or TRIES checks are done (1). CHECK
# runs in this shell: what it sets is there for the caller's message.
settled() {
  local tries=$1 every=$2 ok=0
  shift 2
  for _ in $(seq "$tries"); do
    if "$@"; then
      ok=$((ok + 1))
      [[ $ok -ge 3 ]] && return 0
    else
      ok=0
    fi
    sleep "$every"
  done
  return 1
}

# verdict: the problems array's items and FAIL (exit 1), or PASS (status=0).
verdict() {
  if [[ ${#problems[@]} -gt 0 ]]; then
    local p
    for p in "${problems[@]}"; do echo "  - $p"; done
    echo "FAIL"
    exit 1
  fi
  status=0
  echo "PASS"
}

# ---- scorer runs ----------------------------------------------------------

# await_http VAR LOG PID WHAT [MODE]: waits up to 30 s for a scorer's HTTP
# address in LOG and sets VAR to it; MODE "ready" (default) takes it from
# the "scorer running" line, "http" from the first line that has one.
# Fails, with LOG's last lines, if PID exits first or time runs out.
await_http() {
  local var=$1 logf=$2 pid=$3 what=$4 mode=${5:-ready} found
  printf -v "$var" '%s' ""
  for _ in $(seq 300); do
    if [[ $mode == http ]]; then
      found=$(sed -n 's/.*"http":"\([^"]*\)".*/\1/p' "$logf" | head -n1)
    else
      found=$(sed -n 's/.*"http":"\([^"]*\)".*"message":"scorer running".*/\1/p' "$logf" | head -n1)
    fi
    if [[ -n "$found" ]]; then
      printf -v "$var" '%s' "$found"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logf" >&2; fail "$what exited at start"; }
    sleep 0.1
  done
  fail "$what did not start"
}

# start_scorer [ready|http|none]: the next scorer run ($run) in $group with
# its state in $work/state, 6 partitions, SCORER_ARGS added, its log in
# $work/scorer.$run.log; sets scorer_pid, and http as await_http does
# (none: does not wait).
SCORER_ARGS=()
run=0 http="" scorer_pid=""
start_scorer() {
  run=$((run + 1))
  local logf="$work/scorer.$run.log"
  # Created here: the background job opens it itself, maybe after the
  # first read (and a read of a missing file fails the script).
  : >"$logf"
  "$work/scorer" run --brokers "$addr" --rules "$RULES" --group "$group" --http 127.0.0.1:0 \
    --state-dir "$work/state" --partitions 6 "${SCORER_ARGS[@]}" >/dev/null 2>"$logf" &
  scorer_pid=$!
  http=""
  [[ ${1:-ready} == none ]] && return 0
  await_http http "$logf" "$scorer_pid" "scorer run $run" "${1:-ready}"
}
# metric NAME: metric_sum on the running scorer.
metric() { metric_sum "$http" "$1"; }
# series SERIES: metric_value on the running scorer, 0 when absent.
series() { metric_value "$http" "$1" 0; }
# alive: fails, with its log's last lines, if the scorer died.
alive() { kill -0 "$scorer_pid" 2>/dev/null || { tail -n 20 "$work/scorer.$run.log" >&2; fail "scorer run $run died on its own"; }; }
# assigned: whether the scorer run logged its partitions assignment.
assigned() { grep -q '"message":"partitions assigned"' "$work/scorer.$run.log"; }
# wait_scoring TRIES: until the run owns its partitions (after a kill -9
# the group first waits out the dead member; 30 s at most) and has scored
# something (TRIES x 0.1 s), or the stream is idle.
wait_scoring() {
  for _ in $(seq 300); do
    alive
    assigned && break
    sleep 0.1
  done
  assigned || fail "scorer run $run got no partitions in 30 s"
  for _ in $(seq "$1"); do
    alive
    [[ $(metric scorer_events_total) != 0 ]] && return 0
    sleep 0.1
  done
}
# kill9_scorer: kill -9 the running scorer.
kill9_scorer() {
  kill9 "$scorer_pid"
  scorer_pid=""
}
# term_scorer SECONDS: term_wait on the running scorer.
term_scorer() {
  term_wait "$scorer_pid" "$1" "scorer run $run"
  scorer_pid=""
}

# ---- bridge runs against the sandbox --------------------------------------

# start_sandbox CONFIG: `bridge sandbox` on $sb_addr; sets sandbox_pid.
start_sandbox() {
  "$work/bridge" sandbox --addr "$sb_addr" --config "$1" >"$work/sandbox.log" 2>&1 &
  sandbox_pid=$!
  for _ in $(seq 100); do curl -sf "http://$sb_addr/_sandbox/stats" >/dev/null && break; sleep 0.1; done
  curl -sf "http://$sb_addr/_sandbox/stats" >/dev/null || fail "sandbox did not start (port $sb_addr in use?)"
}

# kill_bridges KILLS: KILLS times, start_bridge (the caller's: it sets
# bridge_pid) and kill -9 it 1-4 s later.
kill_bridges() {
  local k
  for k in $(seq "$1"); do
    start_bridge
    sleep "$((RANDOM % 3 + 1)).$((RANDOM % 10))"
    kill -0 "$bridge_pid" 2>/dev/null || { tail -n 20 "$work/bridge.log" >&2; fail "bridge died on its own"; }
    kill9 "$bridge_pid"
    log "kill -9 $k/$1"
  done
}
