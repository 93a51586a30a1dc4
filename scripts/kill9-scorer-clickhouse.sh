#!/usr/bin/env bash
# kill -9 and ClickHouse outage proof of `scorer run --clickhouse` on the
# real binaries (the sibling of kill9-scorer.sh, which runs without
# ClickHouse).
#
# Starts a ClickHouse of its own (scripts/clickhouse.sh with CH_DIR,
# CH_TCP_PORT, CH_HTTP_PORT: never the shared server) and a private
# localkafka, generates a history, produces part of it up front and the
# rest at a steady rate, and runs scorers with --clickhouse and
# --state-dir through:
#   1. KILLS kill -9 at random moments while batches' rows are in flight to
#      ClickHouse (scorer_batches_in_flight > 0 at the kill, counted);
#   2. a ClickHouse outage under load: the server is stopped; the scorer
#      must log the failed inserts with their backoff, count them
#      (scorer_errors_total{kind="clickhouse"}), answer /readyz 503, report
#      scorer_consumer_lag equal to the group's committed lag, and answer a
#      score read from memory within 1 s; then a kill -9 during the outage;
#   3. a start while ClickHouse is down: the scorer must wait (not exit),
#      /healthz 200, /readyz 503; a SIGTERM must stop it within 15 s, exit 0;
#      started again, it resumes once ClickHouse is back; ClickHouse stops
#      again and a SIGTERM with rows waiting for it must exit 0 within 15 s;
#   4. a last scorer runs until every partition is committed to its end.
# Checks: the changelog's states and the crossings topic are exactly
# `scorer backtest` on the history (as kill9-scorer.sh), and ClickHouse holds
# a touch for every event and a row for every crossing: no row lost to a
# kill or to the outage.
#
# Environment: KILLS (4), CONTACTS (2000), DAYS (30), SEED (random),
# CH_TCP_PORT (the first free pair from 23900), CH_HTTP_PORT (the next port), CH_DIR (.local/ch-outage),
# KEEP=1 keeps the work directory (always kept on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
unset KAFKA_BROKERS EVENTS_TOPIC CROSSINGS_TOPIC EVENTS_DLQ_TOPIC SCORER_CHANGELOG_TOPIC \
  SCORER_GROUP SCORER_HTTP SCORER_STATE_DIR SCORER_RULES CLICKHOUSE_DSN

KILLS=${KILLS:-4}
CONTACTS=${CONTACTS:-2000}
DAYS=${DAYS:-30}
SEED=${SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
RULES=testdata/rules
START=$SECONDS
# Ports below the kernel's ephemeral range (32768-60999), where an
# outgoing connection of any process may hold a port for a while; the
# first pair nobody listens on.
if [[ -z "${CH_TCP_PORT:-}" ]]; then
  for p in $(seq 23900 2 23998); do
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then CH_TCP_PORT=$p CH_HTTP_PORT=$((p + 1)); break; fi
  done
fi
export CH_TCP_PORT=${CH_TCP_PORT:?no free port pair in 23900-23999} CH_HTTP_PORT=${CH_HTTP_PORT:-$((CH_TCP_PORT + 1))}
export CH_DIR=${CH_DIR:-$PWD/.local/ch-outage}
DB="kill9_ch_$$"
DSN="clickhouse://127.0.0.1:$CH_TCP_PORT/$DB"

LIB_NAME=kill9-scorer-ch
work=$(mktemp -d /tmp/kill9-scorer-ch.XXXXXX)
broker_pid="" producer_pid="" status=1

ch() { # start retries: the ports sit in the kernel's ephemeral range, so a
  # client connection may hold one for a moment ("Address already in use")
  local try
  for try in 1 2 3 4 5; do
    scripts/clickhouse.sh "$1" >>"$work/clickhouse.log" 2>&1 && return 0
    [[ $1 == start ]] || return 1
    sleep 2
  done
  return 1
}
chq() { curl -sf --max-time 30 "http://127.0.0.1:$CH_HTTP_PORT/?database=$DB" --data-binary "$1"; }

cleanup() {
  stop_pid "$scorer_pid" KILL 5
  stop_pid "$producer_pid" TERM 5
  stop_pid "$broker_pid" TERM 10
  if scripts/clickhouse.sh status >/dev/null 2>&1; then
    chq "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  fi
  ch stop || true
  finish_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "seed $SEED; work dir $work; ClickHouse on $CH_TCP_PORT/$CH_HTTP_PORT in $CH_DIR"
mkdir -p "$CH_DIR"
ch start || { cat "$work/clickhouse.log" >&2; fail "could not start ClickHouse"; }
build scorer localkafka
start_localkafka 6
log "localkafka (pid $broker_pid) on $addr"

"$work/scorer" generate --contacts "$CONTACTS" --days "$DAYS" >"$work/history.jsonl" 2>/dev/null
events=$(wc -l <"$work/history.jsonl")
first=$((events * 3 / 10))
head -n "$first" "$work/history.jsonl" >"$work/first.jsonl"
tail -n +$((first + 1)) "$work/history.jsonl" >"$work/rest.jsonl"
rest=$(wc -l <"$work/rest.jsonl")
rate=$((rest / (KILLS * 4 + 40) + 1))
"$work/scorer" produce --brokers "$addr" --events "$work/first.jsonl" 2>>"$work/produce.log"
"$work/scorer" produce --brokers "$addr" --events "$work/rest.jsonl" --rate "$rate" 2>>"$work/produce.log" &
producer_pid=$!
log "$events events for $CONTACTS contacts: $first produced, $rest more at $rate/s"

group="kill9ch-$$-$(date +%s%N)"
SCORER_ARGS=(--clickhouse "$DSN")
committed_lag() { group_lag "$addr" "$group"; }

# 1. kill -9 while rows are in flight to ClickHouse.
kills=0 inflight_kills=0
for _ in $(seq "$KILLS"); do
  start_scorer
  wait_scoring 50
  # Kill at a moment batches are in flight, if one comes within 2 s.
  for _ in $(seq 40); do
    [[ $(series scorer_batches_in_flight) != 0 ]] && break
    sleep 0.05
  done
  inflight=$(series scorer_batches_in_flight)
  kill9_scorer
  kills=$((kills + 1))
  [[ $inflight != 0 ]] && inflight_kills=$((inflight_kills + 1))
  log "kill -9 #$kills of run $run with $inflight batches in flight"
done

# 2. ClickHouse stops under load.
start_scorer
wait_scoring 50
errors0=$(series 'scorer_errors_total{kind="clickhouse"}')
ch stop
log "ClickHouse stopped"
outage_ready="" outage_lag="" outage_read_ms=""
for _ in $(seq 150); do
  alive
  code=$(curl -s -o "$work/readyz" -w '%{http_code}' --max-time 2 "http://$http/readyz" || true)
  errors=$(series 'scorer_errors_total{kind="clickhouse"}')
  if [[ $code == 503 ]] && grep -q "ClickHouse failing" "$work/readyz" && [[ ${errors%.*} -gt ${errors0%.*} ]]; then
    outage_ready=$(cat "$work/readyz")
    break
  fi
  sleep 0.2
done
[[ -n "$outage_ready" ]] || fail "no sign of the outage in /readyz or scorer_errors_total{kind=\"clickhouse\"} within 30 s"
log "during the outage: /readyz 503: $outage_ready"
# The lag gauge is the committed lag: compared with the producer paused
# (the gauge refreshes the end offsets every second).
kill -STOP "$producer_pid"
sleep 2.5
for _ in $(seq 20); do
  a=$(committed_lag) m=$(series scorer_consumer_lag)
  if [[ -n "$a" && "${m%.*}" == "$a" && "$a" != 0 ]]; then outage_lag=$a; break; fi
  sleep 0.5
done
kill -CONT "$producer_pid"
[[ -n "$outage_lag" ]] || fail "scorer_consumer_lag ($m) never equalled the committed lag ($a)"
contact=$(head -n 1 "$work/history.jsonl" | jq -r .contact_id)
t0=$(date +%s%N)
curl -sf --max-time 5 "http://$http/contacts/$contact/score" >"$work/score.json" || fail "score read failed during the outage"
outage_read_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $outage_read_ms -lt 1000 ]] || fail "score read took $outage_read_ms ms during the outage"
grep -q '"message":"ClickHouse insert failed; retrying"' "$work/scorer.$run.log" || fail "no log line for the failed inserts"
# The first such line, read whole (with pipefail, `grep | head -n1` fails
# when head closes the pipe before grep has written the rest).
first=$(grep -m1 '"message":"ClickHouse insert failed; retrying"' "$work/scorer.$run.log")
[[ $first == *'"retry_in"'* ]] || fail "the log line has no backoff"
log "lag gauge = committed lag = $outage_lag; score read in $outage_read_ms ms"
kill9_scorer
kills=$((kills + 1))
log "kill -9 #$kills during the outage"

# 3. Started while ClickHouse is down: it waits; SIGTERM stops it.
start_scorer http
for _ in $(seq 100); do
  alive
  grep -q '"message":"ClickHouse unavailable at start; waiting for it' "$work/scorer.$run.log" && break
  sleep 0.1
done
grep -q '"message":"ClickHouse unavailable at start; waiting for it' "$work/scorer.$run.log" || fail "run $run does not say it waits for ClickHouse"
sleep 2
alive
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$http/healthz") == 200 ]] || fail "healthz while waiting for ClickHouse"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$http/readyz") == 503 ]] || fail "ready while waiting for ClickHouse"
term_scorer 15
log "SIGTERM while waiting for ClickHouse at start: exit 0 in $stop_ms ms"
start_scorer http
sleep 2
alive
ch start || fail "could not restart ClickHouse"
log "ClickHouse started again"
for _ in $(seq 300); do
  alive
  grep -q '"message":"scorer running"' "$work/scorer.$run.log" && break
  sleep 0.1
done
grep -q '"message":"scorer running"' "$work/scorer.$run.log" || fail "run $run did not resume once ClickHouse was back"
wait_scoring 50
# A second outage, and a SIGTERM while batches wait for ClickHouse.
ch stop
log "ClickHouse stopped again"
for _ in $(seq 100); do
  alive
  [[ $(series scorer_clickhouse_buffered_rows) != 0 && $(series scorer_batches_in_flight) != 0 ]] && break
  sleep 0.1
done
waiting_rows=$(series scorer_clickhouse_buffered_rows)
term_scorer 15
term_ms=$stop_ms
log "SIGTERM during the outage with $waiting_rows rows waiting: exit 0 in $term_ms ms"
ch start || fail "could not restart ClickHouse"

log "waiting for the producer"
wait "$producer_pid" || fail "scorer produce failed: $(cat "$work/produce.log")"
producer_pid=""

# 4. A last run to the end.
start_scorer
final_run=$run
caught_up() {
  alive
  lag=$(committed_lag)
  mlag=$(series scorer_consumer_lag)
  [[ "$lag" == 0 && "${mlag%.*}" == 0 ]] && assigned
}
settled 180 1 caught_up || fail "lag did not reach 0 (committed lag $lag, metric $mlag)"
term_scorer 15
log "final run $run stopped in $stop_ms ms"

"$work/scorer" backtest --rules "$RULES" --events "$work/history.jsonl" >"$work/backtest.jsonl" 2>"$work/backtest.log"
dump_rc=0
"$work/scorer" state dump --brokers "$addr" --topic engagement-events-scorer-state --rules "$RULES" \
  --crossings-topic lead-score-crossings --events "$work/history.jsonl" >"$work/state.jsonl" 2>"$work/dump.log" || dump_rc=$?
state_bad=$(diff "$work/state.jsonl" "$work/backtest.jsonl" | grep -c '^[<>]' || true)
crossings=$(jq -s '[.[].crossings | length] | add' "$work/backtest.jsonl")
read -r expected missing unexpected < <(sed -n 's/.*: \([0-9]*\) expected, \([0-9]*\) missing from the topic, \([0-9]*\) on the topic.*/\1 \2 \3/p' "$work/dump.log")

# ClickHouse: a touch per event, a row per crossing.
want_events=$(jq -r .id "$work/history.jsonl" | sort -u | wc -l)
jq -r .id "$work/history.jsonl" | sort -u >"$work/ids.txt"
chq "SELECT DISTINCT event_id FROM touches FORMAT TSV" | sort -u >"$work/ch_ids.txt"
touches_missing=$(comm -23 "$work/ids.txt" "$work/ch_ids.txt" | wc -l)
touches=$(wc -l <"$work/ch_ids.txt")
ch_crossings=$(chq "SELECT uniqExact(crossing_id) FROM crossings" | tr -d '\n')
ch_raw=$(chq "SELECT count() FROM touches" | tr -d '\n')

printf '\nkill9-scorer-clickhouse summary (seed %s, %ds)\n' "$SEED" $((SECONDS - START))
printf '  kills (SIGKILL)             %d (%d with batches in flight to ClickHouse, 1 during the outage)\n' "$kills" "$inflight_kills"
printf '  scorer runs                 %d\n' "$final_run"
printf '  outage: /readyz             503 "%s"\n' "$outage_ready"
printf '  outage: lag gauge           %s = committed lag\n' "$outage_lag"
printf '  outage: score read          %d ms\n' "$outage_read_ms"
printf '  SIGTERM during the outage   %d ms (%s rows waiting for ClickHouse)\n' "$term_ms" "$waiting_rows"
printf '  events                      %d (%d distinct ids)\n' "$events" "$want_events"
printf '  touches in ClickHouse       %d distinct (%s rows with replays), %d missing\n' "$touches" "$ch_raw" "$touches_missing"
printf '  crossings in ClickHouse     %s distinct, backtest %d\n' "$ch_crossings" "$crossings"
printf '  changelog vs backtest       %d lines differ\n' "$state_bad"
printf '  crossing ids on the topic   %s expected: %s missing, %s unexpected\n' "${expected:-?}" "${missing:-?}" "${unexpected:-?}"

problems=()
[[ $dump_rc -eq 0 ]] || problems+=("state dump reported inconsistent crossings or states (exit $dump_rc)")
[[ $state_bad -eq 0 ]] || problems+=("$state_bad changelog lines differ from the backtest")
[[ "${missing:-x}" == 0 && "${unexpected:-x}" == 0 && "${expected:-0}" == "$crossings" ]] ||
  problems+=("crossing ids: ${expected:-?} expected, ${missing:-?} missing, ${unexpected:-?} unexpected")
[[ $touches_missing -eq 0 && $touches -eq $want_events ]] || problems+=("$touches_missing events have no touch in ClickHouse ($touches of $want_events)")
[[ "$ch_crossings" == "$crossings" ]] || problems+=("ClickHouse has $ch_crossings distinct crossings, backtest $crossings")
[[ $inflight_kills -gt 0 ]] || problems+=("no kill landed with batches in flight")
[[ $crossings -gt 0 ]] || problems+=("nothing to compare")
verdict
