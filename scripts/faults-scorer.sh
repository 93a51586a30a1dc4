#!/usr/bin/env bash
# Faults of `scorer run --state-dir` on the real binaries, beside
# kill9-scorer.sh (which covers kill -9 and SIGTERM):
#   1. a failed durable step: the dead-letter topic refuses every message
#      (max.message.bytes=100, too small even for a dead letter without its payload) when a malformed event arrives. The scorer
#      must exit 1, and a restart over the same --state-dir must fail on
#      the same batch again (replayed, not skipped through a snapshot
#      holding its effects); once the topic is fixed, it goes on.
#   2. poison messages: a malformed event near 1 MB, an event of 5 MB (over
#      the scorer's producer limit), a contact snapshot of 300 KB of '<'
#      and one of 600 KB of invalid UTF-8 (3x once decoded) whose
#      crossings would pass 1 MB. The scorer must not stop; it counts them
#      (scorer_messages_bounded_total).
#   3. two partitioners: a third of the events is produced with FNV-1a
#      (kafka-go's Hash, as another client would), the rest with murmur2;
#      the scorer forwards them home (scorer_events_rerouted_total).
#   4. an event dated 2200 and one dated 1900 are dead-lettered
#      (scorer_errors_total{kind="timestamp"}).
# Then every contact's score in the changelog (scorer state dump) must be
# the backtest's on the history (malformed and out-of-window events
# excluded). Prints PASS or FAIL with counts.
#
# Environment: CONTACTS (1500), DAYS (30), KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
unset KAFKA_BROKERS EVENTS_TOPIC CROSSINGS_TOPIC EVENTS_DLQ_TOPIC SCORER_CHANGELOG_TOPIC \
  SCORER_GROUP SCORER_HTTP SCORER_STATE_DIR SCORER_RULES CLICKHOUSE_DSN SCORER_ACCEPT_SINCE SCORER_ACCEPT_AHEAD

CONTACTS=${CONTACTS:-1500}
DAYS=${DAYS:-30}
RULES=testdata/rules
START=$SECONDS
LIB_NAME=faults-scorer
work=$(mktemp -d /tmp/faults-scorer.XXXXXX)
broker_pid="" status=1

cleanup() {
  stop_pid "$scorer_pid" KILL 5
  stop_pid "$broker_pid" TERM 10
  finish_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build scorer localkafka
go build -o "$work/faultkit" ./scripts/faultkit
start_localkafka 6
log "localkafka on $addr; work dir $work"

"$work/faultkit" topic "$addr" engagement-events 6 max.message.bytes=8388608
"$work/faultkit" topic "$addr" engagement-events-dlq 1 max.message.bytes=100

"$work/scorer" generate --contacts "$CONTACTS" --days "$DAYS" >"$work/generated.jsonl" 2>/dev/null
# Valid events with huge contact snapshots: three each, crossing
# engagement (40) and intent's nurture (15) on the third.
big_contact() { # id contact-json
  local i=0
  for body in '"type":"form_submitted","properties":{"form":"demo_request"}' \
    '"type":"call_started","properties":{"duration_s":400}' '"type":"call_started","properties":{"duration_s":400}'; do
    printf '{"id":"%s-e%d","contact_id":"%s","occurred_at":"2026-10-05T10:0%d:00Z",%s,"contact":%s}\n' "$1" $i "$1" $i "$body" "$2"
    i=$((i + 1))
  done
}
{
  big_contact c-lt "{\"email\":\"lt@example.com\",\"notes\":\"$(head -c 300000 /dev/zero | tr '\0' '<')\"}"
  big_contact c-utf "{\"email\":\"utf@example.com\",\"notes\":\"$(head -c 600000 /dev/zero | tr '\0' '\377')\"}"
} >"$work/big.jsonl"
cat "$work/generated.jsonl" "$work/big.jsonl" >"$work/history.jsonl"
events=$(wc -l <"$work/history.jsonl")
# KEY<TAB>VALUE files for faultkit.
keyed() { LC_ALL=C sed 's/^\(.*"contact_id":"\([^"]*\)".*\)$/\2\t\1/'; }
first=$((events * 4 / 10))
head -n "$first" "$work/history.jsonl" | keyed >"$work/first.tsv"
{
  printf 'c-bad\t{"id":"near-1mb","contact_id":"c-bad","notes":"%s\n' "$(head -c 1040000 /dev/zero | tr '\0' x)"
} >"$work/poison1.tsv"
tail -n +$((first + 1)) "$work/history.jsonl" | keyed | awk 'NR % 3 == 0' >"$work/rest.fnv.tsv"
tail -n +$((first + 1)) "$work/history.jsonl" | keyed | awk 'NR % 3 != 0' >"$work/rest.murmur.tsv"
{
  printf 'c-huge\t{"id":"huge","type":"email_opened","contact_id":"c-huge","occurred_at":"2026-10-05T10:00:00Z","properties":{"blob":"%s"}}\n' \
    "$(head -c 5000000 /dev/zero | tr '\0' y)"
  printf 'c-000001\t{"id":"y2200","type":"call_started","contact_id":"c-000001","occurred_at":"2200-01-01T00:00:00Z","properties":{"duration_s":400}}\n'
  printf 'c-000002\t{"id":"y1900","type":"call_started","contact_id":"c-000002","occurred_at":"1900-01-01T00:00:00Z","properties":{"duration_s":400}}\n'
} >"$work/poison2.tsv"

"$work/faultkit" produce "$addr" engagement-events "$work/first.tsv"
"$work/faultkit" produce "$addr" engagement-events "$work/poison1.tsv"
log "$events events in the history; $first produced, then a malformed event near 1 MB"

group="faults-$$"
wait_exit() { # seconds: the scorer's exit code, or fail
  for _ in $(seq $(($1 * 10))); do kill -0 "$scorer_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$scorer_pid" 2>/dev/null && return 255
  local rc=0
  wait "$scorer_pid" || rc=$?
  scorer_pid=""
  return $rc
}

# 1. The dead-letter topic refuses: exit 1, twice, on the same batch.
failed_runs=0
for attempt in 1 2; do
  start_scorer none
  rc=0; wait_exit 60 || rc=$?
  [[ $rc -eq 1 ]] || fail "run $run: exit $rc with a dead-letter topic that refuses everything, want 1"
  grep -q '"message":"a durable step of a batch failed' "$work/scorer.$run.log" ||
    fail "run $run: no log line for the failed durable step"
  failed_runs=$((failed_runs + 1))
  log "run $run exited 1: $(grep -o '"error":"[^"]*dead_letters[^"]\{0,80\}' "$work/scorer.$run.log" | head -n1)"
done
"$work/faultkit" topic "$addr" engagement-events-dlq 1 max.message.bytes=1048588
log "dead-letter topic fixed (max.message.bytes=1048588)"

# 2-4. Everything else while one scorer runs.
start_scorer
"$work/faultkit" produce "$addr" engagement-events "$work/rest.murmur.tsv"
"$work/faultkit" produce "$addr" engagement-events "$work/rest.fnv.tsv" fnv
"$work/faultkit" produce "$addr" engagement-events "$work/poison2.tsv"
log "produced the rest: $(wc -l <"$work/rest.murmur.tsv") with murmur2, $(wc -l <"$work/rest.fnv.tsv") with FNV-1a, 3 poison"
caught_up() {
  alive
  lag=$(group_lag "$addr" "$group")
  [[ "$lag" == 0 ]]
}
settled 180 1 caught_up || fail "lag did not reach 0 ($lag)"
rerouted=$(metric scorer_events_rerouted_total)
bounded_x=$(metric 'scorer_messages_bounded_total{kind="crossing"}')
bounded_d=$(metric 'scorer_messages_bounded_total{kind="dead_letter"}')
ts=$(metric 'scorer_errors_total{kind="timestamp"}')
kill -TERM "$scorer_pid"
rc=0; wait_exit 15 || rc=$?
[[ $rc -eq 0 ]] || fail "run $run exited $rc after SIGTERM"

"$work/scorer" backtest --rules "$RULES" --events "$work/history.jsonl" 2>/dev/null |
  jq -c '{contact_id, model, score, groups}' | sort >"$work/backtest.jsonl"
"$work/scorer" state dump --brokers "$addr" --topic engagement-events-scorer-state --rules "$RULES" 2>/dev/null |
  jq -c '{contact_id, model, score, groups}' | sort >"$work/state.jsonl"
lines=$(wc -l <"$work/backtest.jsonl")
right=$(comm -12 "$work/backtest.jsonl" "$work/state.jsonl" | wc -l)
extra=$(comm -13 "$work/backtest.jsonl" "$work/state.jsonl" | wc -l)

printf '\nfaults-scorer summary (%ds)\n' $((SECONDS - START))
printf '  failed durable step          %d runs exited 1 on the same batch, then the fixed topic let it pass\n' "$failed_runs"
printf '  events                       %d (+ 4 malformed or out of the window)\n' "$events"
printf '  rerouted                     %s (scorer_events_rerouted_total)\n' "$rerouted"
printf '  bounded crossings            %s, bounded dead letters %s (scorer_messages_bounded_total)\n' "$bounded_x" "$bounded_d"
printf '  timestamps dead-lettered     %s (scorer_errors_total{kind="timestamp"})\n' "$ts"
printf '  scores right                 %d of %d (state dump vs backtest; %d lines only in the state)\n' "$right" "$lines" "$extra"

problems=()
[[ $right -eq $lines && $extra -eq 0 ]] || problems+=("$((lines - right)) of $lines scores differ from the backtest")
[[ ${rerouted%.*} -gt 0 ]] || problems+=("nothing rerouted")
[[ ${bounded_x%.*} -ge 2 ]] || problems+=("crossings bounded: $bounded_x, want >= 2")
[[ ${bounded_d%.*} -ge 2 ]] || problems+=("dead letters bounded: $bounded_d, want >= 2")
[[ ${ts%.*} -eq 2 ]] || problems+=("timestamps dead-lettered: $ts, want 2")
verdict
