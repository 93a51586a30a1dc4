#!/usr/bin/env bash
# kill -9 proof of `scorer run` on the real binaries.
#
# Builds scorer and localkafka, starts a private localkafka (free loopback
# port, temporary data dir), generates a history, produces part of it up
# front and the rest at a steady rate while a scorer runs, and kills the
# scorer with SIGKILL at random moments of its processing (KILLS times,
# 0.2-2 s after it starts scoring), restarting it each time; once, half
# way, it stops it with SIGTERM instead, so the next start restores from
# its local snapshots. A last scorer then runs until every partition is
# committed to its end. Checks:
#   - every contact's state in the changelog topic (scorer state dump) is
#     byte-identical to `scorer backtest` on the same history, crossing
#     times included (taken from the crossings topic, one per crossing_id);
#   - the crossings topic holds exactly the crossing ids the rules give on
#     the history (scoring.EvaluateCrossings, by crossing_id); no crossing_id
#     names two different crossings, no crossing is announced under two
#     ids (duplicates with the same id are counted and allowed);
#   - the latest lead-scores message of every contact (scorer state
#     scores) says what the backtest's final state says: scores, the
#     threshold it is past, that crossing's time, the top groups;
#   - GET /contacts/{id}/score of the last instance agrees with the
#     backtest for every contact (score and groups);
#   - with company models (the default rules, testdata/rules-accounts),
#     GET /companies/{id}/score agrees with the backtest's company lines
#     for every company (score, members' scores, coverage) once the
#     company group has caught up, and the company crossings on the
#     crossings topic are exactly accounts.Crossings over the changes each
#     company received on the company topic, content included (scorer
#     state dump --companies-topic);
#   - graceful stops exit 0, and the snapshot path was taken;
#   - two instances (REBALANCE_ROUNDS, below): with a second, long-lived
#     instance in the group, a newcomer is killed in the middle of its
#     rebalance and another right after it (its JoinGroup waiting on the
#     first's session), as in a rolling restart; within session + rebalance
#     timeout + 10 s the long-lived one must own every partition
#     (scorer_partitions_owned), i.e. no partition is left to a dead member
#     (issue 19).
# Prints PASS or FAIL with counts; exits non-zero on any mismatch.
#
# Environment: KILLS (6), REBALANCE_ROUNDS (3; 0 skips the two-instance
# scenario), CONTACTS (3000), DAYS (30), SEED (random),
# KEEP=1 keeps the work directory (it is always kept on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# Hermetic: no broker, topic, group or ClickHouse from the caller's environment.
unset KAFKA_BROKERS EVENTS_TOPIC CROSSINGS_TOPIC EVENTS_DLQ_TOPIC SCORER_CHANGELOG_TOPIC \
  SCORER_GROUP SCORER_HTTP SCORER_STATE_DIR SCORER_RULES CLICKHOUSE_DSN SCORES_TOPIC

KILLS=${KILLS:-6}
REBALANCE_ROUNDS=${REBALANCE_ROUNDS:-3}
CONTACTS=${CONTACTS:-3000}
DAYS=${DAYS:-30}
SEED=${SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
# With a company model: the company aggregator's group runs in the same
# process and is killed with it; its scores are checked over HTTP.
RULES=${RULES:-testdata/rules-accounts}
START=$SECONDS

LIB_NAME=kill9-scorer
work=$(mktemp -d /tmp/kill9-scorer.XXXXXX)
broker_pid="" producer_pid="" peer_pid="" status=1

cleanup() {
  stop_pid "$scorer_pid" KILL 5
  stop_pid "$peer_pid" KILL 5
  stop_pid "$producer_pid" TERM 5
  stop_pid "$broker_pid" TERM 10
  finish_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "seed $SEED; work dir $work"
build scorer localkafka
start_localkafka 6
log "localkafka (pid $broker_pid) on $addr"

"$work/scorer" generate --contacts "$CONTACTS" --days "$DAYS" >"$work/history.jsonl" 2>/dev/null
events=$(wc -l <"$work/history.jsonl")
# 40% up front, the rest (after two malformed lines, which must be
# dead-lettered, not fatal) at a rate that spans the kill phase.
first=$((events * 4 / 10))
head -n "$first" "$work/history.jsonl" >"$work/first.jsonl"
{
  echo '{"id":"broken"'
  echo '{"id":"kill9-bad","type":"no_such_type","contact_id":"c-000001","occurred_at":"not a time"}'
  tail -n +$((first + 1)) "$work/history.jsonl"
} >"$work/rest.jsonl"
rest=$(wc -l <"$work/rest.jsonl")
rate=$((rest / (KILLS * 9 + 5) + 1))
"$work/scorer" produce --brokers "$addr" --events "$work/first.jsonl" 2>>"$work/produce.log"
"$work/scorer" produce --brokers "$addr" --events "$work/rest.jsonl" --rate "$rate" 2>>"$work/produce.log" &
producer_pid=$!
log "$events events for $CONTACTS contacts: $first produced, $rest more (2 malformed) at $rate/s"

group="kill9-$$-$(date +%s%N)"
random_sleep() { sleep_ms $((200 + RANDOM % 1801)); }

kills=0 graceful=0
for k in $(seq "$KILLS"); do
  start_scorer
  wait_scoring 30
  random_sleep
  alive
  scored=$(metric scorer_events_total)
  kill9_scorer
  kills=$((kills + 1))
  log "kill -9 #$kills of run $run after it read $scored events"
  if [[ $k -eq $(((KILLS + 1) / 2)) ]]; then
    # A graceful stop writes snapshots at the committed offsets; the next
    # start must restore from them.
    start_scorer
    wait_scoring 30
    random_sleep
    term_scorer 15
    graceful=$((graceful + 1))
    log "SIGTERM: run $run stopped gracefully in $stop_ms ms"
    snap_run=$((run + 1))
  fi
done

# --- Two instances: members killed in the middle of a rebalance (issue 19) ---
# A long-lived instance (the peer, its own state dir) stays in the group.
# Each round starts a newcomer and kill -9s it 0.2-3 s later (its join
# rebalances the group: it dies while joining, syncing or just after),
# then starts a second newcomer and kill -9s it 0.5-4 s later, before the
# first one's session expired, so its JoinGroup is still waiting at the
# coordinator. The broker must then expire both and give every partition
# to the peer within session + rebalance timeout (10 s + 10 s) + a margin;
# a broker that keeps the dead joiner (upstream kfake did) leaves half the
# partitions unowned for good (in about half of the rounds: whether it
# noticed the dead connection was a coin toss). The peer is stopped gracefully afterwards
# and the final run below checks every score against the backtest.
peer_http="" peer_rounds=0 peer_heal_max=0
REBALANCE_LIMIT=30 # s: SessionTimeout + RebalanceTimeout (10 s each) + 10 s
start_peer() {
  : >"$work/peer.log"
  "$work/scorer" run --brokers "$addr" --rules "$RULES" --group "$group" --http 127.0.0.1:0 \
    --state-dir "$work/state-peer" --partitions 6 >/dev/null 2>"$work/peer.log" &
  peer_pid=$!
  await_http peer_http "$work/peer.log" "$peer_pid" "the peer scorer"
}
peer_owned() {
  kill -0 "$peer_pid" 2>/dev/null || { tail -n 20 "$work/peer.log" >&2; fail "the peer scorer died"; }
  metric_value "$peer_http" scorer_partitions_owned -1
}
# kill_newcomer MIN_MS SPAN_MS: start a scorer and kill -9 it MIN-MIN+SPAN ms later.
kill_newcomer() {
  start_scorer
  local ms=$(($1 + RANDOM % $2))
  sleep_ms "$ms"
  alive
  kill9_scorer
  kills=$((kills + 1))
  log "kill -9 of newcomer run $run, $ms ms after it started (peer owned $(peer_owned) partitions)"
}
rebalance_kills() {
  [[ $REBALANCE_ROUNDS -gt 0 ]] || return 0
  if [[ "${snap_run:-}" == $((run + 1)) ]]; then
    # The graceful stop was the kill loop's last run (small KILLS): the
    # next run must restore from its snapshots alone, before the peer.
    start_scorer
    wait_scoring 30
    term_scorer 15
    graceful=$((graceful + 1))
  fi
  start_peer
  for _ in $(seq 300); do [[ $(peer_owned) == 6 ]] && break; sleep 0.1; done
  [[ $(peer_owned) == 6 ]] || fail "the peer scorer did not get the 6 partitions in 30 s"
  log "peer scorer (pid $peer_pid) owns every partition"
  for round in $(seq "$REBALANCE_ROUNDS"); do
    kill_newcomer 200 2800
    kill_newcomer 500 3500
    local t0 owned=-1 stable=0 healed=0
    t0=$(date +%s%N)
    while [[ $((($(date +%s%N) - t0) / 1000000000)) -lt $REBALANCE_LIMIT ]]; do
      owned=$(peer_owned)
      if [[ $owned == 6 ]]; then
        [[ $stable -eq 0 ]] && healed=$((($(date +%s%N) - t0) / 1000000))
        stable=$((stable + 1))
        [[ $stable -ge 3 ]] && break # owned at three checks in a row, 0.5 s apart
      else
        stable=0
      fi
      sleep 0.5
    done
    [[ $stable -ge 3 ]] || fail "round $round: $REBALANCE_LIMIT s after the last kill the live peer owns $owned of 6 partitions: the rest are left to a dead member"
    [[ $healed -gt $peer_heal_max ]] && peer_heal_max=$healed
    peer_rounds=$((peer_rounds + 1))
    log "round $round: the peer owns every partition again $healed ms after the last kill"
  done
  term_wait "$peer_pid" 15 "the peer scorer"
  peer_pid=""
  graceful=$((graceful + 1))
  log "SIGTERM: the peer stopped gracefully in $stop_ms ms"
}
rebalance_kills

log "waiting for the producer"
wait "$producer_pid" || fail "scorer produce failed: $(cat "$work/produce.log")"
producer_pid=""

start_scorer
final_run=$run
log "final run $run: waiting until every partition is committed to its end"
caught_up() {
  alive
  lag=$(group_lag "$addr" "$group")
  mlag=$(metric scorer_consumer_lag)
  [[ "$lag" == 0 && "$mlag" == 0 ]] && assigned
}
settled 120 1 caught_up || fail "lag did not reach 0 (committed lag $lag, metric $mlag)"

"$work/scorer" backtest --rules "$RULES" --events "$work/history.jsonl" >"$work/backtest.all.jsonl" 2>"$work/backtest.log"
jq -c 'select(.contact_id)' "$work/backtest.all.jsonl" >"$work/backtest.jsonl"
jq -c 'select(.company_id) | {company_id, model, score, contacts, coverage}' "$work/backtest.all.jsonl" | sort >"$work/backtest.companies.jsonl"
companies=$(wc -l <"$work/backtest.companies.jsonl")
companies_bad=0
if [[ $companies -gt 0 ]]; then
  # The company group catches up after the contact group.
  clag=""
  for _ in $(seq 60); do
    clag=$(group_lag "$addr" "$group-companies" engagement-events-companies)
    [[ "$clag" == 0 ]] && break
    sleep 1
  done
  [[ "$clag" == 0 ]] || fail "the company group's lag did not reach 0 ($clag)"
  curls=()
  while read -r line; do
    curls+=("http://$http/companies/$(jq -r .company_id <<<"$line")/score?model=$(jq -r .model <<<"$line")")
  done <"$work/backtest.companies.jsonl"
  { curl -sf --max-time 60 "${curls[@]}" || true; } | jq -c '{company_id, model, score, contacts, coverage}' | sort >"$work/http.companies.jsonl"
  companies_bad=$(diff "$work/http.companies.jsonl" "$work/backtest.companies.jsonl" | grep -c '^[<>]' || true)
fi

# The live instance answers like the backtest, for every contact.
jq -r '.contact_id' "$work/backtest.jsonl" | sort -u >"$work/sample.txt"
sampled=$(wc -l <"$work/sample.txt")
urls=()
while read -r id; do urls+=("http://$http/contacts/$id/score"); done <"$work/sample.txt"
{ curl -sf --max-time 60 "${urls[@]}" || true; } | jq -c '.[] | {contact_id, model, score, groups}' | sort >"$work/http.jsonl"
grep -Ff <(sed 's/.*/"contact_id":"&"/' "$work/sample.txt") "$work/backtest.jsonl" |
  jq -c '{contact_id, model, score, groups}' | sort >"$work/backtest.sample.jsonl"
http_bad=$(diff "$work/http.jsonl" "$work/backtest.sample.jsonl" | grep -c '^[<>]' || true)

term_scorer 15
graceful=$((graceful + 1))
log "SIGTERM: final run $run stopped gracefully in $stop_ms ms"

dump_rc=0
# With company models the company crossings are checked too: the reference
# over the changes each company received on the company topic.
dump_companies=()
[[ $companies -gt 0 ]] && dump_companies=(--companies-topic engagement-events-companies)
"$work/scorer" state dump --brokers "$addr" --topic engagement-events-scorer-state --rules "$RULES" \
  --crossings-topic lead-score-crossings --events "$work/history.jsonl" "${dump_companies[@]}" >"$work/state.jsonl" 2>"$work/dump.log" || dump_rc=$?
cat "$work/dump.log" >&2

scores_rc=0
"$work/scorer" state scores --brokers "$addr" --rules "$RULES" --events "$work/history.jsonl" \
  >"$work/scores.jsonl" 2>"$work/scores.log" || scores_rc=$?
tail -n 2 "$work/scores.log" >&2
read -r scores_differ scores_missing scores_extra < <(sed -n 's/.*: \([0-9]*\) contacts differ, \([0-9]*\) missing from the topic, \([0-9]*\) on the topic only.*/\1 \2 \3/p' "$work/scores.log")
scores_contacts=$(wc -l <"$work/scores.jsonl")

contacts=$(jq -r '.contact_id' "$work/backtest.jsonl" | sort -u | wc -l)
crossings=$(jq -s '[.[].crossings | length] | add' "$work/backtest.jsonl")
dups=$(sed -n 's/.* \([0-9]*\) duplicates (same id.*/\1/p' "$work/dump.log")
distinct=$(sed -n 's/.* \([0-9]*\) distinct crossing ids.*/\1/p' "$work/dump.log")
read -r expected missing unexpected < <(sed -n 's/.*: \([0-9]*\) expected, \([0-9]*\) missing from the topic, \([0-9]*\) on the topic.*/\1 \2 \3/p' "$work/dump.log")
state_bad=$(diff "$work/state.jsonl" "$work/backtest.jsonl" | grep -c '^[<>]' || true)
cross_bad=$(diff <(jq -c '{contact_id, model, crossings}' "$work/state.jsonl") \
  <(jq -c '{contact_id, model, crossings}' "$work/backtest.jsonl") | grep -c '^[<>]' || true)
snapshots=0
[[ -n "${snap_run:-}" ]] && snapshots=$(grep -c 'restored partition state from the local snapshot' "$work/scorer.$snap_run.log" || true)
dead=$(cat "$work"/scorer.*.log | grep -c 'dead-lettered an event' || true)

printf '\nkill9-scorer summary (seed %s, %ds)\n' "$SEED" $((SECONDS - START))
printf '  kills (SIGKILL)             %d\n' "$kills"
printf '  graceful stops (SIGTERM)    %d\n' "$graceful"
printf '  scorer runs                 %d\n' "$final_run"
printf '  events                      %d (+2 malformed)\n' "$events"
printf '  contacts compared           %d (changelog vs backtest; lines differing: %d)\n' "$contacts" "$state_bad"
printf '  lead-scores contacts        %d (differing from the backtest: %s, missing: %s, extra: %s)\n' "$scores_contacts" "${scores_differ:-?}" "${scores_missing:-?}" "${scores_extra:-?}"
printf '  contacts over HTTP          %d (lines differing: %d)\n' "$sampled" "$http_bad"
printf '  companies over HTTP         %d (company lines differing from the backtest: %d)\n' "$companies" "$companies_bad"
if [[ $companies -gt 0 ]]; then
  read -r cx_expected cx_missing cx_unexpected cx_differing cx_conflicting < <(sed -n 's/^company crossings in .*: \([0-9]*\) expected, \([0-9]*\) missing, \([0-9]*\) unexpected, \([0-9]*\) differing, \([0-9]*\) conflicting$/\1 \2 \3 \4 \5/p' "$work/dump.log")
  printf '  company crossings           %s from the reference over the company topic: %s missing, %s unexpected, %s differing, %s conflicting\n' \
    "${cx_expected:-?}" "${cx_missing:-?}" "${cx_unexpected:-?}" "${cx_differing:-?}" "${cx_conflicting:-?}"
fi
printf '  crossings compared          %d (backtest) vs %s distinct ids on the topic (lines differing: %d)\n' "$crossings" "${distinct:-?}" "$cross_bad"
printf '  crossing ids compared       %s expected from the history: %s missing, %s unexpected\n' "${expected:-?}" "${missing:-?}" "${unexpected:-?}"
printf '  duplicate crossings seen    %s (same id)\n' "${dups:-?}"
printf '  snapshot restores           %d partitions (run %s, after the graceful stop)\n' "$snapshots" "${snap_run:--}"
printf '  dead-letter log lines       %d (2 malformed events, replays repeat them)\n' "$dead"
printf '  two-instance rounds         %d of %d (two newcomers killed mid-rebalance; slowest recovery to a live owner of every partition: %d ms, limit %d s)\n' \
  "$peer_rounds" "$REBALANCE_ROUNDS" "$peer_heal_max" "$REBALANCE_LIMIT"

problems=()
[[ $dump_rc -eq 0 ]] || problems+=("state dump reported inconsistent crossings or states (exit $dump_rc)")
[[ $companies -eq 0 || "${cx_expected:-0}" -gt 0 ]] || problems+=("no company crossing was checked against the reference")
[[ $scores_rc -eq 0 && "${scores_differ:-x}" == 0 && "${scores_missing:-x}" == 0 && "${scores_extra:-x}" == 0 ]] ||
  problems+=("lead-scores differs from the backtest: ${scores_differ:-?} differ, ${scores_missing:-?} missing, ${scores_extra:-?} extra (exit $scores_rc)")
[[ $scores_contacts -eq $contacts ]] || problems+=("lead-scores holds $scores_contacts contacts, the backtest $contacts")
[[ $state_bad -eq 0 ]] || problems+=("$state_bad changelog lines differ from the backtest")
[[ $cross_bad -eq 0 ]] || problems+=("$cross_bad lines' crossings differ")
[[ $http_bad -eq 0 ]] || problems+=("$http_bad HTTP score lines differ")
[[ $companies_bad -eq 0 ]] || problems+=("$companies_bad HTTP company score lines differ")
[[ "${distinct:-x}" == "$crossings" ]] || problems+=("topic has ${distinct:-?} distinct crossings, backtest $crossings")
[[ "${missing:-x}" == 0 && "${unexpected:-x}" == 0 && "${expected:-0}" == "$crossings" ]] ||
  problems+=("crossing ids: ${expected:-?} expected, ${missing:-?} missing, ${unexpected:-?} unexpected")
[[ $kills -eq $((KILLS + 2 * REBALANCE_ROUNDS)) ]] || problems+=("only $kills kills")
[[ $peer_rounds -eq $REBALANCE_ROUNDS ]] || problems+=("only $peer_rounds of $REBALANCE_ROUNDS two-instance rounds")
[[ $snapshots -gt 0 ]] || problems+=("the restart after a graceful stop did not use the snapshots")
[[ $dead -ge 2 ]] || problems+=("the malformed events were not dead-lettered")
[[ $crossings -gt 0 && $contacts -gt 0 ]] || problems+=("nothing to compare")
verdict
