#!/usr/bin/env bash
# kill -9 proof of `bridge run` on the real binaries, against the HubSpot
# sandbox (`bridge sandbox`) with faults and ClickHouse for the audit.
#
# Builds bridge, scorer (for `scorer produce`) and localkafka; starts a
# private localkafka and a sandbox whose answers fail (error_rate: 5xx
# before processing, status checks included) and whose connections drop
# after an enrollment was stored (drop_after_enroll_rate); each sender has a
# small daily cap (daily_enrollments: CAP). Crossings are produced at a
# steady rate while the bridge is killed with SIGKILL at random moments
# (KILLS times, 1-4 s after it starts; the sandbox holds each stored
# enrollment's answer ANSWER_DELAY, so kills land between enrollments and
# their answers), restarted each time; a last bridge runs until the topic
# is consumed and both audit outboxes are empty.
# Checks, against the sandbox's own record and ClickHouse:
#   - no sender has more than CAP enrollments (the sandbox's list);
#   - no contact was enrolled twice;
#   - every enrollment at the sandbox has an `enrolled` decision in
#     ClickHouse (confirmed_by response or status);
#   - every enrollment at the sandbox has its enrollment call (POST) in
#     api_calls: answered, or marked interrupted (status 0, error
#     "interrupted: ...") when a kill cut it between request and answer
#     (the call is stored before it is sent); 0 missing;
#   - every answered enrollment call has its api_calls row; no api_calls
#     row is lost (HubSpot's accepted requests <= rows; reported per kill).
# Prints PASS or FAIL with counts; exits non-zero on any failure.
#
# Environment: CLICKHOUSE_DSN (required: a server the script may create a
# database on), KILLS (5), CROSSINGS (240), CAP (5), SEED (random),
# ANSWER_DELAY (300ms: the sandbox holds each stored enrollment's answer
# this long during the kills, so kills cut enrollment calls),
# PORT_BASE (31400, below the kernel's ephemeral range 32768-60999: the bridge's HTTP port and the sandbox's are taken
# from it), KEEP=1 keeps the work directory (always kept on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
unset KAFKA_BROKERS CROSSINGS_TOPIC CROSSINGS_DLQ_TOPIC BRIDGE_GROUP BRIDGE_HTTP BRIDGE_CONFIG BRIDGE_STATE_DIR

KILLS=${KILLS:-5}
CROSSINGS=${CROSSINGS:-240}
CAP=${CAP:-5}
SEED=${SEED:-$(( $(date +%s) % 32768 ))}
PORT_BASE=${PORT_BASE:-31400}
ANSWER_DELAY=${ANSWER_DELAY:-300ms}
RANDOM=$SEED
START=$SECONDS
: "${CLICKHOUSE_DSN:?kill9-bridge needs CLICKHOUSE_DSN (clickhouse://host:port/db)}"

LIB_NAME=kill9-bridge
work=$(mktemp -d /tmp/kill9-bridge.XXXXXX)
broker_pid="" bridge_pid="" producer_pid="" sandbox_pid="" status=1
hostport=${CLICKHOUSE_DSN#clickhouse://}; hostport=${hostport%%/*}; hostport=${hostport##*@}
ch_host=${hostport%%:*}; ch_port=${hostport##*:}
db="kill9_bridge_${SEED}_$$"
dsn="clickhouse://${hostport}/${db}"
sb_addr="127.0.0.1:$((PORT_BASE + 1))"
http_addr="127.0.0.1:$((PORT_BASE + 2))"

chq() { clickhouse-client --host "$ch_host" --port "$ch_port" --database "$db" -q "$1"; }

cleanup() {
  stop_pid "$bridge_pid" KILL 5
  stop_pid "$producer_pid" TERM 5
  stop_pid "$sandbox_pid" TERM 5
  stop_pid "$broker_pid" TERM 10
  clickhouse-client --host "$ch_host" --port "$ch_port" -q "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
  finish_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "seed $SEED; work dir $work; ClickHouse database $db"
build bridge scorer localkafka
start_localkafka 4
brokers=$addr

# The sandbox: the sample's senders and sequences, faults on.
start_sandbox testdata/sandbox.yaml
curl -sf -XPOST "http://$sb_addr/_sandbox/faults" \
  -d "{\"error_rate\":0.15,\"seed\":$SEED,\"drop_after_enroll_rate\":0.3,\"answer_delay\":\"$ANSWER_DELAY\"}" >/dev/null || fail "sandbox faults"
token=$(awk '/^token:/ {print $2}' testdata/sandbox.yaml)

cat >"$work/bridge.yaml" <<YAML
sink: hubspot
hubspot: {base_url: "http://$sb_addr", requests_per_10s: 190}
senders:
  - {owner_id: "u-1", user_id: "101", email: "ana@example.com", daily_enrollments: $CAP, daily_sends: 1000}
  - {owner_id: "u-2", user_id: "102", email: "ben@example.com", daily_enrollments: $CAP, daily_sends: 1000}
  - {owner_id: "u-3", user_id: "103", email: "chloe@example.com", daily_enrollments: $CAP, daily_sends: 1000}
  - {owner_id: "u-4", user_id: "104", email: "dev@example.com", daily_enrollments: $CAP, daily_sends: 1000}
routes:
  - {model: engagement, threshold: sales, sequence_id: "9001"}
  - {model: engagement, threshold: nurture, workflow_id: "5001"}
hold: {max_age: 168h, retry_after: 1s}
YAML

# Crossings: each contact once, owners in turn; half of them sales (far
# more than the caps allow), half nurture (workflow calls, uncapped, so the
# kills meet calls in flight all along).
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for i in $(seq "$CROSSINGS"); do
  th=sales; (( i % 2 )) && th=nurture
  printf '{"crossing_id":"k9-%s-%d","contact_id":"%d","model":"engagement","score":70,"threshold":60,"threshold_name":"%s","crossed_at":"%s","event_id":"e%d","rule_version":"v1","contact":{"owner_id":"u-%d","email":"contact-%d@example.net"}}\n' \
    "$SEED" "$i" $((500000 + i)) "$th" "$now" "$i" $(( (i / 2 % 4) + 1 )) $((500000 + i))
done >"$work/crossings.jsonl"
"$work/scorer" produce --events "$work/crossings.jsonl" --brokers "$brokers" --topic lead-score-crossings \
  --rate $(( CROSSINGS / 12 + 1 )) >"$work/produce.log" 2>&1 &
producer_pid=$!

start_bridge() {
  HUBSPOT_TOKEN=$token "$work/bridge" run --config "$work/bridge.yaml" --brokers "$brokers" \
    --state-dir "$work/state" --clickhouse "$dsn" --http "$http_addr" --tick 500ms --grace 1s \
    >>"$work/bridge.log" 2>&1 &
  bridge_pid=$!
}
metric() { metric_value "$http_addr" "$1"; }

kill_bridges "$KILLS"
wait "$producer_pid" || fail "producer failed"; producer_pid=""
curl -sf -XPOST "http://$sb_addr/_sandbox/faults" -d '{"error_rate":0,"drop_after_enroll_rate":0,"answer_delay":"0s"}' >/dev/null
start_bridge
deadline=$((SECONDS + 60))
while :; do
  (( SECONDS < deadline )) || fail "the last bridge did not settle (see $work/bridge.log)"
  lag=$(metric bridge_consumer_lag) out=$(metric bridge_outbox_decisions)
  calls=$(metric bridge_outbox_api_calls) ready=$(curl -sf "http://$http_addr/readyz" || true)
  if [[ -n "$ready" && "$lag" == 0 && "$out" == 0 && "$calls" == 0 ]]; then
    sleep 2 # one more tick: held crossings released and flushed
    [[ "$(metric bridge_outbox_decisions)" == 0 && "$(metric bridge_outbox_api_calls)" == 0 ]] && break
  fi
  sleep 0.5
done
stop_pid "$bridge_pid" TERM 10; bridge_pid=""

# What HubSpot (the sandbox) holds, and what the audit says.
curl -sf "http://$sb_addr/_sandbox/enrollments" >"$work/enrollments.json"
curl -sf "http://$sb_addr/_sandbox/stats" >"$work/stats.json"
jq -r '(.sequences // .)[] | select(.contactId|tonumber >= 500000) | [.userId, .contactId, (.answered|tostring)] | @tsv' \
  "$work/enrollments.json" >"$work/enrolled.tsv"
over=$(cut -f1 "$work/enrolled.tsv" | sort | uniq -c | awk -v cap="$CAP" '$1 > cap' | wc -l)
twice=$(cut -f2 "$work/enrolled.tsv" | sort | uniq -d | wc -l)
enrolled=$(wc -l <"$work/enrolled.tsv")
lost_answers=$(awk -F'\t' '$3 == "false"' "$work/enrolled.tsv" | wc -l)
chq "SELECT DISTINCT contact_id, visitParamExtractString(detail, 'confirmed_by') FROM decisions FINAL WHERE outcome = 'enrolled'" \
  | sort >"$work/decided.tsv"
no_decision=$(cut -f2 "$work/enrolled.tsv" | sort | join -v1 - <(cut -f1 "$work/decided.tsv") | wc -l)
by_status=$(awk -F'\t' '$2 == "status"' "$work/decided.tsv" | wc -l)
rows=$(chq "SELECT count() FROM (SELECT call_id FROM api_calls GROUP BY call_id)")
posts=$(chq "SELECT count() FROM (SELECT call_id FROM api_calls WHERE method = 'POST' AND status = 200 GROUP BY call_id)")
answered=$(awk -F'\t' '$3 == "true"' "$work/enrolled.tsv" | wc -l)
# The enrollment calls (sequence POSTs) in the audit, by contact: any
# status, the interrupted ones included.
enroll_calls="method = 'POST' AND path LIKE '/automation/%sequences%/enrollments%'"
chq "SELECT DISTINCT contact_id FROM api_calls WHERE $enroll_calls" | sort >"$work/called.tsv"
no_call=$(cut -f2 "$work/enrolled.tsv" | sort | join -v1 - "$work/called.tsv" | wc -l)
interrupted=$(chq "SELECT count() FROM (SELECT call_id FROM api_calls WHERE startsWith(error, 'interrupted:') GROUP BY call_id)")
chq "SELECT contact_id FROM api_calls WHERE $enroll_calls GROUP BY contact_id HAVING countIf(NOT startsWith(error, 'interrupted:')) = 0" \
  | sort >"$work/only_interrupted.tsv"
cut_enrolled=$(cut -f2 "$work/enrolled.tsv" | sort | join - "$work/only_interrupted.tsv" | wc -l)
requests=$(jq '.requests // .Requests // 0' "$work/stats.json")
lost_rows=$(( requests > rows ? requests - rows : 0 ))
per_kill=$(awk -v l="$lost_rows" -v k="$KILLS" 'BEGIN {printf "%.1f", l / k}')
log "enrollments $enrolled (answer lost $lost_answers; decided by status $by_status); senders over cap $over; contacts enrolled twice $twice; enrolled without decision $no_decision"
log "HubSpot requests $requests, api_calls rows $rows (lost $lost_rows, $per_kill per kill; interrupted $interrupted); answered enrollments $answered, 200 POST rows $posts"
log "enrollments without their enrollment call in api_calls: $no_call; enrolled by a call a kill cut before its answer (row marked interrupted): $cut_enrolled"

(( enrolled > 0 )) || fail "nothing was enrolled"
(( over == 0 )) || fail "$over sender(s) over the daily cap of $CAP"
(( twice == 0 )) || fail "$twice contact(s) enrolled twice"
(( no_decision == 0 )) || fail "$no_decision enrollment(s) without an enrolled decision"
(( posts >= answered )) || fail "$((answered - posts)) answered enrollment(s) without their api_calls row"
(( no_call == 0 )) || fail "$no_call enrollment(s) at HubSpot without their enrollment call in api_calls (see $work/called.tsv)"
(( lost_rows == 0 )) || fail "$lost_rows api_calls rows lost over $KILLS kills"
status=0
log "PASS"
