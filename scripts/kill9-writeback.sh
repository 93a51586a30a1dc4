#!/usr/bin/env bash
# kill -9 proof of the write-back (`bridge run` with a writeback section)
# on the real binaries: scorer -> lead-scores -> bridge -> the sandbox's
# contact properties, and scorer -> company-scores -> bridge -> its company
# properties (writeback.companies, rules with a company model), under
# HubSpot's 429s.
#
# Builds bridge, scorer and localkafka; starts a private localkafka, a
# sandbox (testdata/sandbox.yaml with its rolling limit cut to RATE
# requests per 10 s, under the bridge's 190, so the bridge meets 429s) and a scorer that
# publishes lead-scores and company-scores. A generated history is produced, part up front,
# the rest at a steady rate, while the bridge (write-back with
# min_delta: 0, flush_interval: 1s) is killed with SIGKILL at random
# moments (KILLS times, 1-4 s after it starts) and restarted. A last bridge
# runs until both write-backs have consumed their topics to the end with
# nothing pending. Checks:
#   - `scorer state scores --events`: the topic equals the backtest;
#   - `scorer state company-scores --events`: that topic equals the
#     backtest's company lines;
#   - `bridge writeback-check`: every contact's and every company's
#     properties in the sandbox, read through HubSpot's API, are those of
#     its latest message;
#   - the sandbox answered 429s; the batch calls are counted.
# Prints PASS or FAIL; exits non-zero on failure.
#
# Environment: KILLS (4), CONTACTS (400), DAYS (10), RATE (120), SEED
# (random), PORT_BASE (31500, below the kernel's ephemeral range 32768-60999: the sandbox and the bridge's HTTP port are
# taken from it), RULES (testdata/rules-accounts; rules without a company
# model skip the company part), KEEP=1 keeps the work directory (always
# on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
unset KAFKA_BROKERS EVENTS_TOPIC CROSSINGS_TOPIC SCORES_TOPIC COMPANY_SCORES_TOPIC COMPANIES_TOPIC SCORER_GROUP SCORER_HTTP SCORER_STATE_DIR SCORER_RULES \
  CLICKHOUSE_DSN BRIDGE_GROUP BRIDGE_HTTP BRIDGE_CONFIG BRIDGE_STATE_DIR

KILLS=${KILLS:-4}
CONTACTS=${CONTACTS:-400}
DAYS=${DAYS:-10}
RATE=${RATE:-120}
SEED=${SEED:-$(( $(date +%s) % 32768 ))}
PORT_BASE=${PORT_BASE:-31500}
RANDOM=$SEED
START=$SECONDS
RULES=${RULES:-testdata/rules-accounts}
companies=0
grep -qs '^level: company' "$RULES"/*.yaml && companies=1

LIB_NAME=kill9-writeback
work=$(mktemp -d /tmp/kill9-writeback.XXXXXX)
broker_pid="" bridge_pid="" producer_pid="" sandbox_pid="" scorer_pid="" status=1
sb_addr="127.0.0.1:$((PORT_BASE + 1))"
http_addr="127.0.0.1:$((PORT_BASE + 2))"

cleanup() {
  stop_pid "$bridge_pid" KILL 5
  stop_pid "$producer_pid" TERM 5
  stop_pid "$scorer_pid" TERM 10
  stop_pid "$sandbox_pid" TERM 5
  stop_pid "$broker_pid" TERM 10
  finish_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "seed $SEED; work dir $work"
build bridge scorer localkafka
start_localkafka 4
brokers=$addr

# The sandbox: the sample, its rolling limit cut to RATE per 10 s.
sed -e "s/^  max: 190/  max: $RATE/" testdata/sandbox.yaml >"$work/sandbox.yaml"
start_sandbox "$work/sandbox.yaml"
token=$(awk '/^token:/ {print $2}' testdata/sandbox.yaml)

cat >"$work/bridge.yaml" <<YAML
sink: hubspot
hubspot: {base_url: "http://$sb_addr", requests_per_10s: 190}
senders:
  - {owner_id: "u-1", user_id: "101", email: "ana@example.com"}
routes:
  - {model: engagement, sequence_id: "9001"}
writeback:
  min_delta: 0
  flush_interval: 1s
YAML
if [[ $companies == 1 ]]; then
  printf '  companies: {}\n' >>"$work/bridge.yaml"
fi

"$work/scorer" generate --contacts "$CONTACTS" --days "$DAYS" --seed "$SEED" >"$work/history.jsonl" 2>/dev/null
events=$(wc -l <"$work/history.jsonl")
first=$((events * 4 / 10))
head -n "$first" "$work/history.jsonl" >"$work/first.jsonl"
tail -n +$((first + 1)) "$work/history.jsonl" >"$work/rest.jsonl"
"$work/scorer" produce --brokers "$brokers" --events "$work/first.jsonl" 2>>"$work/produce.log"
"$work/scorer" run --brokers "$brokers" --rules "$RULES" --group scorer --http 127.0.0.1:0 --partitions 4 \
  >/dev/null 2>"$work/scorer.log" &
scorer_pid=$!
"$work/scorer" produce --brokers "$brokers" --events "$work/rest.jsonl" --rate $(( (events - first) / (KILLS * 3 + 4) + 1 )) \
  2>>"$work/produce.log" &
producer_pid=$!
log "$events events for $CONTACTS contacts: $first up front, the rest at a steady rate"

start_bridge() {
  HUBSPOT_TOKEN=$token "$work/bridge" run --config "$work/bridge.yaml" --brokers "$brokers" \
    --state-dir "$work/state" --http "$http_addr" --tick 500ms --grace 1s >>"$work/bridge.log" 2>&1 &
  bridge_pid=$!
}
kill_bridges "$KILLS"
wait "$producer_pid" || fail "producer failed"; producer_pid=""
start_bridge
written_back() {
  kill -0 "$bridge_pid" 2>/dev/null || { tail -n 20 "$work/bridge.log" >&2; fail "the last bridge died"; }
  slag=$(group_lag "$brokers" scorer engagement-events)
  wlag=$(group_lag "$brokers" bridge-writeback lead-scores)
  pending=$(metric_value "$http_addr" bridge_writeback_pending_contacts)
  clag=0 cwlag=0 cpending=0
  if [[ $companies == 1 ]]; then
    clag=$(group_lag "$brokers" scorer-companies engagement-events-companies)
    cwlag=$(group_lag "$brokers" bridge-writeback-companies company-scores)
    cpending=$(metric_value "$http_addr" bridge_writeback_pending_companies)
  fi
  [[ "$slag" == 0 && "$wlag" == 0 && "$pending" == 0 && "$clag" == 0 && "$cwlag" == 0 && "$cpending" == 0 ]]
}
settled 180 1 written_back || fail "the write-back did not settle (see $work/bridge.log)"
stop_pid "$bridge_pid" TERM 10; bridge_pid=""

scores_rc=0
"$work/scorer" state scores --brokers "$brokers" --rules "$RULES" --events "$work/history.jsonl" \
  >"$work/scores.jsonl" 2>"$work/scores.log" || scores_rc=$?
company_args=() company_rc=0
if [[ $companies == 1 ]]; then
  "$work/scorer" state company-scores --brokers "$brokers" --rules "$RULES" --events "$work/history.jsonl" \
    >"$work/company-scores.jsonl" 2>"$work/company-scores.log" || company_rc=$?
  company_args=(--company-scores "$work/company-scores.jsonl")
fi
check_rc=0
HUBSPOT_TOKEN=$token "$work/bridge" writeback-check --config "$work/bridge.yaml" --scores "$work/scores.jsonl" "${company_args[@]}" \
  >"$work/check.txt" 2>"$work/check.log" || check_rc=$?
stats=$(curl -sf "http://$sb_addr/_sandbox/stats")
crm=$(curl -sf "http://$sb_addr/_sandbox/crm/stats")
contacts=$(wc -l <"$work/scores.jsonl")
limited=$(jq -r '.rateLimited' <<<"$stats")
batches=$(jq -r '.batch_updates' <<<"$crm")
company_batches=$(jq -r '.company_batch_updates' <<<"$crm")
ncompanies=$( [[ $companies == 1 ]] && wc -l <"$work/company-scores.jsonl" || echo 0)
differ=$(wc -l <"$work/check.txt")

printf '\nkill9-writeback summary (seed %s, %ds)\n' "$SEED" $((SECONDS - START))
printf '  kills (SIGKILL)          %d\n' "$KILLS"
printf '  events                   %d for %d contacts\n' "$events" "$CONTACTS"
printf '  lead-scores contacts     %d (%s)\n' "$contacts" "$(tail -n 1 "$work/scores.log")"
if [[ $companies == 1 ]]; then
  printf '  company-scores companies %d (%s)\n' "$ncompanies" "$(tail -n 1 "$work/company-scores.log")"
fi
printf '  HubSpot check            %s\n' "$(grep 'checked' "$work/check.log" | paste -sd ';' -)"
printf '  property values differing %d\n' "$differ"
printf '  batch update calls       %s contacts, %s companies (sandbox CRM: %s)\n' "$batches" "$company_batches" "$crm"
printf '  sandbox 429s             %s (stats: %s)\n' "$limited" "$stats"

problems=()
[[ $scores_rc -eq 0 ]] || problems+=("lead-scores differs from the backtest (exit $scores_rc)")
[[ $check_rc -eq 0 && $differ -eq 0 ]] || problems+=("$differ property values differ from the latest lead-scores (exit $check_rc)")
[[ $contacts -gt 0 ]] || problems+=("no contacts")
if [[ $companies == 1 ]]; then
  [[ $company_rc -eq 0 ]] || problems+=("company-scores differs from the backtest (exit $company_rc)")
  [[ $ncompanies -gt 0 && "$company_batches" -gt 0 ]] || problems+=("no company written ($ncompanies companies, $company_batches batch calls)")
fi
[[ "$limited" != 0 ]] || problems+=("the sandbox answered no 429: the run did not exercise them")
verdict
