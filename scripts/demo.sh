#!/usr/bin/env bash
# The live end-to-end demo (`make demo`): builds the binaries, starts the
# local Kafka broker, ClickHouse, the HubSpot sandbox, `scorer run`,
# `bridge run` (enrollments and write-back) and `bridge ingest` on loopback,
# streams a generated engagement history through them, then makes activity
# in HubSpot (the sandbox: contacts created and edited, which sends signed
# webhooks, and email opens and clicks on its email events API) that comes
# back through `bridge ingest`, shows progress, and ends with a report that
# reads a few contacts' score properties back from the sandbox and checks
# that every contact's properties equal its latest lead-scores message.
#
# Every run starts from a clean slate: the demo's broker data, the services'
# state and the ClickHouse database `scorebridge_demo` are reset at start
# (the rest of ClickHouse is left alone). Logs: .local/demo/logs/.
#
# Environment (defaults in brackets):
#   KAFKA_PORT [9092] SCORER_PORT [8080] BRIDGE_PORT [8081] SANDBOX_PORT [8090]
#   INGEST_PORT [8082] (bridge ingest's webhook receiver) STUDIO_PORT [8070]
#   CH_TCP_PORT [9000] CH_HTTP_PORT [8123]   the private ClickHouse's ports
#   CLICKHOUSE_DSN     use this server instead (database DEMO_DB on it)
#   DEMO_DB [scorebridge_demo]   the ClickHouse database the demo resets
#   DEMO_CONTACTS [5000] DEMO_DAYS [28] DEMO_SEED [42]   the generated history
#   DEMO_CHECK_EVERY [5]   the write-back check reads back every Nth contact (1: all)
#   DEMO_WAIT [auto]   1: keep the services up after the report until Ctrl-C;
#                      0: stop at once; auto: 1 when run from a terminal
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEMO="$ROOT/.local/demo"
LOGS="$DEMO/logs"
KAFKA_PORT="${KAFKA_PORT:-9092}"
SCORER_PORT="${SCORER_PORT:-8080}"
BRIDGE_PORT="${BRIDGE_PORT:-8081}"
SANDBOX_PORT="${SANDBOX_PORT:-8090}"
INGEST_PORT="${INGEST_PORT:-8082}"
export CH_TCP_PORT="${CH_TCP_PORT:-9000}" CH_HTTP_PORT="${CH_HTTP_PORT:-8123}"
DEMO_CONTACTS="${DEMO_CONTACTS:-5000}"
DEMO_DAYS="${DEMO_DAYS:-28}"
DEMO_SEED="${DEMO_SEED:-42}"
DEMO_WAIT="${DEMO_WAIT:-auto}"
DB="${DEMO_DB:-scorebridge_demo}"
[[ "$DB" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "demo: DEMO_DB=$DB is not a ClickHouse database name" >&2; exit 1; }
BIN="$ROOT/bin"
BROKER="127.0.0.1:$KAFKA_PORT"
SCORER_URL="http://127.0.0.1:$SCORER_PORT"
BRIDGE_URL="http://127.0.0.1:$BRIDGE_PORT"
INGEST_URL="http://127.0.0.1:$INGEST_PORT"
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
SANDBOX_TOKEN=sandbox-token-change-me # testdata/demo/sandbox.yaml's token

T0=$SECONDS
step() { printf '\n==> [%3ds] %s\n' "$((SECONDS - T0))" "$*"; }
say() { echo "    $*"; }

# ---- processes: started in the background, stopped on any exit ----------
PIDS=()     # "name:pid", in start order
STARTED_CH=0
CLEANED=0
cleanup() {
	local code=$?
	[[ $CLEANED == 1 ]] && return
	CLEANED=1
	trap - INT TERM EXIT
	if ((${#PIDS[@]} > 0)) || [[ $STARTED_CH == 1 ]]; then
		echo
		echo "==> stopping the demo's processes"
	fi
	local i entry name pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		entry="${PIDS[$i]}"
		name="${entry%%:*}" pid="${entry##*:}"
		if ! kill -0 "$pid" 2>/dev/null; then
			say "$name stopped"
			continue
		fi
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "$name (pid $pid) did not stop in 10 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		else
			say "$name stopped"
		fi
	done
	rm -f "$DEMO/pids"
	if [[ $STARTED_CH == 1 ]]; then
		CH_DIR="$ROOT/.local/clickhouse" scripts/clickhouse.sh stop 2>&1 | sed 's/^/    /' || true
	fi
	exit "$code"
}
trap cleanup EXIT
trap 'echo; echo "==> interrupted"; exit 130' INT TERM

# fail COMPONENT MESSAGE: say what failed and show the component's log.
fail() {
	local comp="$1"
	shift
	echo
	echo "demo: FAILED: $*" >&2
	if [[ -f "$LOGS/$comp.log" ]]; then
		echo "---- last lines of $LOGS/$comp.log ----" >&2
		tail -n 25 "$LOGS/$comp.log" >&2
		echo "----" >&2
	fi
	exit 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_get URL: prints the body of a 200 answer, fails otherwise (no curl
# needed on a fresh machine).
http_get() {
	local hostport path out
	hostport="${1#http://}"
	path="/${hostport#*/}"
	hostport="${hostport%%/*}"
	out="$( (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" &&
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3 &&
		timeout 3 cat <&3) 2>/dev/null)" || return 1
	[[ "$out" == "HTTP/1."?" 200"* ]] || return 1
	printf '%s\n' "${out#*$'\r\n\r\n'}"
}

# start NAME CMD...: runs CMD in the background, output to logs/NAME.log.
start() {
	local name="$1"
	shift
	"$@" >"$LOGS/$name.log" 2>&1 </dev/null &
	PIDS+=("$name:$!")
	echo "$name:$!" >>"$DEMO/pids"
}

pid_of() {
	local e
	for e in "${PIDS[@]}"; do [[ "${e%%:*}" == "$1" ]] && echo "${e##*:}"; done
}

# wait_for NAME SECONDS TEST...: until TEST succeeds; fails with the log if
# NAME exits or time runs out.
wait_for() {
	local name="$1" secs="$2"
	shift 2
	local pid
	pid="$(pid_of "$name")"
	for _ in $(seq 1 $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || fail "$name" "$name exited during start"
		sleep 0.1
	done
	fail "$name" "$name not ready within ${secs} s"
}

check_alive() {
	local e
	for e in "${PIDS[@]}"; do
		[[ "${e%%:*}" == produce ]] && continue # it ends when the history is sent
		kill -0 "${e##*:}" 2>/dev/null || fail "${e%%:*}" "${e%%:*} has stopped"
	done
}

# ---- 0. leftovers of an interrupted run, ports --------------------------
mkdir -p "$DEMO"
if [[ -f "$DEMO/pids" ]]; then
	# Only processes this script started, recorded by pid, still running our binaries.
	while IFS=: read -r name pid; do
		if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$ROOT/bin/"; then
			echo "demo: stopping $name (pid $pid) left by an earlier run"
			kill -TERM "$pid" 2>/dev/null || true
			sleep 1
		fi
	done <"$DEMO/pids"
	rm -f "$DEMO/pids"
fi

busy=()
for spec in "KAFKA_PORT:$KAFKA_PORT:the Kafka broker" "SCORER_PORT:$SCORER_PORT:scorer run's HTTP" \
	"BRIDGE_PORT:$BRIDGE_PORT:bridge run's HTTP" "SANDBOX_PORT:$SANDBOX_PORT:the HubSpot sandbox" \
	"INGEST_PORT:$INGEST_PORT:bridge ingest's webhook receiver"; do
	IFS=: read -r var port what <<<"$spec"
	if port_busy "$port"; then
		busy+=("$var")
		echo "demo: port $port ($what) on 127.0.0.1 is in use by another process." >&2
		echo "      See which: ss -ltnp 'sport = :$port'. Stop it, or choose another port: $var=$((port + 10000)) make demo" >&2
	fi
done
# The private ClickHouse's ports, unless it is ours and already running or
# CLICKHOUSE_DSN names another server.
chpid="$(cat "$ROOT/.local/clickhouse/clickhouse.pid" 2>/dev/null || true)"
if [[ -z "${CLICKHOUSE_DSN:-}" ]] && ! { [[ -n "$chpid" ]] && kill -0 "$chpid" 2>/dev/null; }; then
	for spec in "CH_TCP_PORT:$CH_TCP_PORT" "CH_HTTP_PORT:$CH_HTTP_PORT"; do
		IFS=: read -r var port <<<"$spec"
		if port_busy "$port"; then
			busy+=("$var")
			echo "demo: port $port (ClickHouse, $var) on 127.0.0.1 is in use by another process." >&2
			echo "      Stop it, choose other ports (CH_TCP_PORT=19000 CH_HTTP_PORT=18123 make demo)," >&2
			echo "      or use that server if it is a ClickHouse: CLICKHOUSE_DSN=clickhouse://127.0.0.1:$CH_TCP_PORT/default make demo" >&2
		fi
	done
fi
((${#busy[@]} == 0)) || exit 1

# ---- 1. build ------------------------------------------------------------
rm -rf "$LOGS" "$DEMO/kafka" "$DEMO/scorer-state" "$DEMO/bridge-state" "$DEMO/ingest-state"
mkdir -p "$LOGS"
step "building bin/ (go build ./cmd/...; the first build downloads modules)"
command -v go >/dev/null || fail build "go is not on PATH: install Go 1.26 (https://go.dev/dl/)"
go build -o bin/ ./cmd/... >"$LOGS/build.log" 2>&1 || fail build "go build failed"
say "bin/scorer bin/bridge bin/localkafka"

# ---- 2. Kafka ------------------------------------------------------------
step "starting the local Kafka broker on $BROKER (data in .local/demo/kafka)"
start localkafka "$BIN"/localkafka --addr "$BROKER" --data-dir "$DEMO/kafka"
wait_for localkafka 30 grep -q "localkafka ready" "$LOGS/localkafka.log"
say "$(grep -m1 "localkafka ready" "$LOGS/localkafka.log")"

# ---- 3. ClickHouse -------------------------------------------------------
if [[ -n "${CLICKHOUSE_DSN:-}" ]]; then
	# The demo keeps its rows in its own database on that server.
	DSN="$(sed -E "s#^(clickhouse://[^/?]+)(/[^?]*)?#\\1/$DB#" <<<"$CLICKHOUSE_DSN")"
	step "using the ClickHouse server of CLICKHOUSE_DSN (database $DB)"
else
	step "starting ClickHouse (scripts/clickhouse.sh start; data in .local/clickhouse; tcp $CH_TCP_PORT, http $CH_HTTP_PORT)"
	if ! CH_DIR="$ROOT/.local/clickhouse" scripts/clickhouse.sh status >/dev/null 2>&1; then
		STARTED_CH=1
	fi
	CH_DIR="$ROOT/.local/clickhouse" scripts/clickhouse.sh start >"$LOGS/clickhouse.log" 2>&1 || {
		STARTED_CH=0
		echo "    (if a port is busy: CH_TCP_PORT=19000 CH_HTTP_PORT=18123 make demo; or point CLICKHOUSE_DSN at a server you have)" >&2
		fail clickhouse "scripts/clickhouse.sh start failed"
	}
	DSN="clickhouse://127.0.0.1:$CH_TCP_PORT/$DB"
fi
bin/scorer demo-report reset --clickhouse "$DSN" >>"$LOGS/clickhouse.log" 2>&1 ||
	fail clickhouse "cannot reach ClickHouse at $DSN"
say "$(tail -n 1 "$LOGS/clickhouse.log")"

# ---- 4. the history, HubSpot sandbox, scorer, bridge --------------------
step "generating $DEMO_CONTACTS contacts over $DEMO_DAYS days (bin/scorer generate)"
bin/scorer generate --contacts "$DEMO_CONTACTS" --days "$DEMO_DAYS" --seed "$DEMO_SEED" \
	>"$DEMO/events.jsonl" 2>"$LOGS/generate.log" || fail generate "scorer generate failed"
say "$(tail -n 1 "$LOGS/generate.log") -> .local/demo/events.jsonl"

step "starting the HubSpot sandbox on 127.0.0.1:$SANDBOX_PORT (testdata/demo/sandbox.yaml + the history's contacts; webhooks to $INGEST_URL)"
bin/scorer demo-report sandbox --config testdata/demo/sandbox.yaml --events "$DEMO/events.jsonl" \
	>"$DEMO/sandbox.yaml" 2>"$LOGS/sandbox.log" || fail sandbox "writing the sandbox configuration failed"
# The app's client secret, which signs the sandbox's webhooks and which
# bridge ingest checks: new for every run, in a file only we can read.
(umask 077 && head -c 32 /dev/urandom | base64 >"$DEMO/client-secret")
cat >>"$DEMO/sandbox.yaml" <<EOF

# Added by scripts/demo.sh: contact changes are sent, signed, to bridge ingest.
webhooks:
  url: "$INGEST_URL/hubspot/webhooks"
  secret_file: "$DEMO/client-secret"
EOF
start sandbox "$BIN"/bridge sandbox --addr "127.0.0.1:$SANDBOX_PORT" --config "$DEMO/sandbox.yaml"
wait_for sandbox 15 port_busy "$SANDBOX_PORT"

step "starting scorer run (rules testdata/rules-accounts: two contact models and a company model, HTTP $SCORER_URL)"
start scorer "$BIN"/scorer run --rules testdata/rules-accounts --brokers "$BROKER" --clickhouse "$DSN" \
	--http "127.0.0.1:$SCORER_PORT" --state-dir "$DEMO/scorer-state"
wait_for scorer 60 http_get "$SCORER_URL/readyz"

step "starting bridge run (config testdata/demo/bridge.yaml, HTTP $BRIDGE_URL)"
sed "s#http://127.0.0.1:8090#http://127.0.0.1:$SANDBOX_PORT#" testdata/demo/bridge.yaml >"$DEMO/bridge.yaml"
start bridge env HUBSPOT_TOKEN="$SANDBOX_TOKEN" "$BIN"/bridge run --config "$DEMO/bridge.yaml" --brokers "$BROKER" \
	--clickhouse "$DSN" --http "127.0.0.1:$BRIDGE_PORT" --state-dir "$DEMO/bridge-state"
wait_for bridge 60 http_get "$BRIDGE_URL/readyz"

step "starting bridge ingest (webhooks on $INGEST_URL/hubspot/webhooks, the sandbox's email events polled every 2 s)"
# The sandbox holds only this run's email events: read them all, whatever
# their dates (a real portal: --email-since 24h, the default). The poller
# looks up each new recipient's contact id: 200 requests per 10 s of the
# demo sandbox's 1,000 (a real portal: the default 10 of 190).
start ingest env HUBSPOT_TOKEN="$SANDBOX_TOKEN" "$BIN"/bridge ingest --addr "127.0.0.1:$INGEST_PORT" --brokers "$BROKER" \
	--config "$DEMO/bridge.yaml" --secret-file "$DEMO/client-secret" --email-poll 2s --email-rate 200 \
	--email-since 2000-01-01T00:00:00Z --state-dir "$DEMO/ingest-state"
wait_for ingest 30 http_get "$INGEST_URL/healthz"

# ---- 5. stream -----------------------------------------------------------
step "producing the history to Kafka (bin/scorer produce)"
start produce "$BIN"/scorer produce --events "$DEMO/events.jsonl" --brokers "$BROKER"

step "streaming (metrics of both services, every second)"
if ! bin/scorer demo-report watch --scorer "$SCORER_URL" --bridge "$BRIDGE_URL" --events "$DEMO/events.jsonl" --timeout 5m; then
	check_alive
	fail scorer "the demo did not finish streaming (see also $LOGS/bridge.log)"
fi
say "$(tail -n 1 "$LOGS/produce.log")"

# ---- 5b. activity in HubSpot, back through bridge ingest ----------------
step "activity in HubSpot (the sandbox): contacts created and edited -> signed webhooks, email opens and clicks -> email events API"
bin/scorer demo-report hubspot-activity --sandbox "$SANDBOX_URL" --events "$DEMO/events.jsonl" \
	--activity "$DEMO/hubspot-activity.json" 2>>"$LOGS/report.log" | sed 's/^/    /'
((PIPESTATUS[0] == 0)) || fail report "the activity in the sandbox failed"

step "waiting for bridge ingest -> Kafka -> scorer -> lead-scores -> write-back into the sandbox"
if ! bin/scorer demo-report hubspot-wait --scorer "$SCORER_URL" --bridge "$BRIDGE_URL" --ingest "$INGEST_URL" \
	--sandbox "$SANDBOX_URL" --activity "$DEMO/hubspot-activity.json" --timeout 2m | sed 's/^/    /'; then
	check_alive
	fail ingest "the HubSpot loop did not finish (see also $LOGS/bridge.log, $LOGS/scorer.log)"
fi

# ---- 6. report -----------------------------------------------------------
step "report"
bin/scorer demo-report summary --clickhouse "$DSN" --scorer "$SCORER_URL" --bridge "$BRIDGE_URL" \
	--summary-ingest "$INGEST_URL" --events "$DEMO/events.jsonl" --example-out "$DEMO/example-contact" \
	2>>"$LOGS/report.log" | sed 's/^/    /'
((PIPESTATUS[0] == 0)) || fail report "the report failed"

contact="$(cat "$DEMO/example-contact" 2>/dev/null || echo c-000003)"
echo
env HUBSPOT_TOKEN="$SANDBOX_TOKEN" bin/scorer demo-report hubspot-report --scorer "$SCORER_URL" --bridge "$BRIDGE_URL" \
	--ingest "$INGEST_URL" --sandbox "$SANDBOX_URL" --bridge-config "$DEMO/bridge.yaml" \
	--activity "$DEMO/hubspot-activity.json" --example "$contact" 2>>"$LOGS/report.log" | sed 's/^/    /'
((PIPESTATUS[0] == 0)) || fail report "the report's HubSpot section failed"

# The check: contacts' properties in the sandbox, read over its CRM API
# (as any HubSpot client would, at the sandbox's 1,000 requests per 10 s),
# equal their latest lead-scores message (min_delta is 0 in
# testdata/demo/bridge.yaml, and the write-back has flushed). Checked:
# every contact of the HubSpot activity and every DEMO_CHECK_EVERY-th
# other contact [5]; DEMO_CHECK_EVERY=1 checks all (about a minute more).
bin/scorer state scores --brokers "$BROKER" >"$DEMO/lead-scores.jsonl" 2>>"$LOGS/check.log" ||
	fail check "reading the lead-scores topic failed"
every="${DEMO_CHECK_EVERY:-5}"
[[ "$every" =~ ^[1-9][0-9]*$ ]] || fail check "DEMO_CHECK_EVERY=$every: want a whole number, 1 for every contact"
touched="$(grep -oE '^ +"[^"]+",?$' "$DEMO/hubspot-activity.json" | tr -d ' ",' | paste -sd'|')"
awk -v every="$every" -v re="\"contact_id\":\"(${touched:-none})\"" 'NR % every == 0 || $0 ~ re' \
	"$DEMO/lead-scores.jsonl" >"$DEMO/lead-scores-checked.jsonl"
if env HUBSPOT_TOKEN="$SANDBOX_TOKEN" bin/bridge writeback-check --config "$DEMO/bridge.yaml" \
	--scores "$DEMO/lead-scores-checked.jsonl" >"$DEMO/writeback-differences.txt" 2>>"$LOGS/check.log"; then
	say "check (bridge writeback-check): $(tail -n 1 "$LOGS/check.log" | sed 's/ (.*//') -> HubSpot holds what lead-scores says"
	say "  (of $(wc -l <"$DEMO/lead-scores.jsonl") contacts on lead-scores: every one of the HubSpot activity and every ${every}th other)"
else
	head -n 5 "$DEMO/writeback-differences.txt" >&2
	fail check "HubSpot's contact properties differ from the lead-scores topic (all in .local/demo/writeback-differences.txt)"
fi
# The same for companies: every company's properties in the sandbox equal
# its latest company-scores message, once the company aggregator and the
# companies' write-back have caught up.
for _ in $(seq 60); do
	clag=$(bin/scorer state lag --brokers "$BROKER" --topic engagement-events-companies --group scorer-companies 2>/dev/null | sed -n 's/^total lag //p')
	cwlag=$(bin/scorer state lag --brokers "$BROKER" --topic company-scores --group bridge-writeback-companies 2>/dev/null | sed -n 's/^total lag //p')
	cpending=$(curl -sf "$BRIDGE_URL/metrics" | awk '$1 == "bridge_writeback_pending_companies" {print $2}')
	[[ "$clag" == 0 && "$cwlag" == 0 && "$cpending" == 0 ]] && break
	sleep 1
done
bin/scorer state company-scores --brokers "$BROKER" >"$DEMO/company-scores.jsonl" 2>>"$LOGS/check.log" ||
	fail check "reading the company-scores topic failed"
if env HUBSPOT_TOKEN="$SANDBOX_TOKEN" bin/bridge writeback-check --config "$DEMO/bridge.yaml" \
	--company-scores "$DEMO/company-scores.jsonl" >"$DEMO/company-writeback-differences.txt" 2>>"$LOGS/check.log"; then
	say "check (bridge writeback-check --company-scores): $(tail -n 1 "$LOGS/check.log" | sed 's/ (.*//') -> HubSpot's company properties hold what company-scores says"
else
	head -n 5 "$DEMO/company-writeback-differences.txt" >&2
	fail check "HubSpot's company properties differ from the company-scores topic (all in .local/demo/company-writeback-differences.txt)"
fi
if [[ "$DEMO_WAIT" == auto ]]; then
	DEMO_WAIT=0
	[[ -t 0 && -t 1 ]] && DEMO_WAIT=1
fi
up="the services stop now; run with DEMO_WAIT=1 to keep them up for the curl and clickhouse-client lines"
[[ "$DEMO_WAIT" == 1 ]] && up="the services stay up until you press Ctrl-C"
if [[ -n "${CLICKHOUSE_DSN:-}" ]]; then
	chq="clickhouse-client --host <your server> --database $DB"
else
	chq="clickhouse-client --port $CH_TCP_PORT --database $DB"
fi
cat <<EOF

==> done in $((SECONDS - T0)) s. Explore ($up; logs in .local/demo/logs/):
    # why contact $contact scored what it did, and what the bridge decided:
    bin/scorer explain --rules testdata/rules-accounts --events .local/demo/events.jsonl --contact $contact
    curl -s $SCORER_URL/contacts/$contact/score
    curl -s '$BRIDGE_URL/decisions?contact_id=$contact'
    # its score properties as HubSpot holds them (the sandbox's CRM API), and what ingest brought in:
    curl -s -H 'Authorization: Bearer $SANDBOX_TOKEN' '$SANDBOX_URL/crm/v3/objects/contacts/$contact?properties=scorebridge_engagement_score,scorebridge_engagement_threshold,scorebridge_engagement_top'
    # a company's account score as HubSpot holds it (company properties), and every company's on the topic:
    curl -s -H 'Authorization: Bearer $SANDBOX_TOKEN' '$SANDBOX_URL/crm/v3/objects/companies/$(sed -n '1s/^{"company_id":"\([^"]*\)".*/\1/p' "$DEMO/company-scores.jsonl")?properties=scorebridge_account_engagement_score,scorebridge_account_engagement_coverage,scorebridge_account_engagement_top'
    bin/scorer state company-scores --brokers $BROKER | head
    curl -s $INGEST_URL/metrics | grep ^bridge_ingest_ ; curl -s $SANDBOX_URL/_sandbox/webhooks
    bin/scorer report decisions --clickhouse $DSN --contact $contact
    bin/scorer report attribution --clickhouse $DSN --model w --by channel --sql
    curl -s $SCORER_URL/metrics | grep ^scorer_ ; curl -s $BRIDGE_URL/metrics | grep ^bridge_
    $chq -q "SELECT outcome, reason, count() FROM decisions GROUP BY outcome, reason ORDER BY 3 DESC"
    $chq -q "SELECT type, count() FROM touches GROUP BY type ORDER BY 2 DESC"
    bin/scorer backtest --rules testdata/rules-accounts --events .local/demo/events.jsonl | head
    $chq -q "SELECT company_id, argMax(score, version) / 1e6 AS s FROM company_scores FINAL GROUP BY company_id ORDER BY s DESC LIMIT 5"
    docs/analysts.md (tables and SQL), docs/rules.md (write rules), docs/operations.md (run it)
EOF

# ---- 7. Score Studio (web console; STUDIO_PORT [8070]) -------------------
STUDIO_PORT="${STUDIO_PORT:-8070}"
if port_busy "$STUDIO_PORT"; then
	echo "demo: port $STUDIO_PORT is in use: Score Studio not started (STUDIO_PORT=18070 make demo)" >&2
else
	start studio "$BIN"/scorer studio --rules testdata/rules-accounts --events "$DEMO/events.jsonl" \
		--scorer "$SCORER_URL" --bridge "$BRIDGE_URL" --http "127.0.0.1:$STUDIO_PORT"
	wait_for studio 120 http_get "http://127.0.0.1:$STUDIO_PORT/api/rules"
	echo "==> Score Studio: http://127.0.0.1:$STUDIO_PORT/  (docs/studio.md; loopback only)"
fi

if [[ "$DEMO_WAIT" == 1 ]]; then
	echo
	echo "==> the services keep running for you to explore; press Ctrl-C to stop them"
	while true; do
		sleep 2
		check_alive
	done
fi
