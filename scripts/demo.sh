#!/usr/bin/env bash
# The live end-to-end demo (`make demo`): builds the binaries, starts the
# local Kafka broker, ClickHouse, the HubSpot sandbox, `scorer run` and
# `bridge run` on loopback, streams a generated engagement history through
# them, shows progress, and ends with a report.
#
# Every run starts from a clean slate: the demo's broker data, the services'
# state and the ClickHouse database `scorebridge_demo` are reset at start
# (the rest of ClickHouse is left alone). Logs: .local/demo/logs/.
#
# Environment (defaults in brackets):
#   KAFKA_PORT [9092] SCORER_PORT [8080] BRIDGE_PORT [8081] SANDBOX_PORT [8090]
#   CH_TCP_PORT [9000] CH_HTTP_PORT [8123]   the private ClickHouse's ports
#   CLICKHOUSE_DSN     use this server instead (database scorebridge_demo on it)
#   DEMO_CONTACTS [5000] DEMO_DAYS [28] DEMO_SEED [42]   the generated history
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
export CH_TCP_PORT="${CH_TCP_PORT:-9000}" CH_HTTP_PORT="${CH_HTTP_PORT:-8123}"
DEMO_CONTACTS="${DEMO_CONTACTS:-5000}"
DEMO_DAYS="${DEMO_DAYS:-28}"
DEMO_SEED="${DEMO_SEED:-42}"
DEMO_WAIT="${DEMO_WAIT:-auto}"
DB=scorebridge_demo
BIN="$ROOT/bin"
BROKER="127.0.0.1:$KAFKA_PORT"
SCORER_URL="http://127.0.0.1:$SCORER_PORT"
BRIDGE_URL="http://127.0.0.1:$BRIDGE_PORT"
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
	"BRIDGE_PORT:$BRIDGE_PORT:bridge run's HTTP" "SANDBOX_PORT:$SANDBOX_PORT:the HubSpot sandbox"; do
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
rm -rf "$LOGS" "$DEMO/kafka" "$DEMO/scorer-state" "$DEMO/bridge-state"
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

step "starting the HubSpot sandbox on 127.0.0.1:$SANDBOX_PORT (testdata/demo/sandbox.yaml + the history's contacts)"
bin/scorer demo-report sandbox --config testdata/demo/sandbox.yaml --events "$DEMO/events.jsonl" \
	>"$DEMO/sandbox.yaml" 2>"$LOGS/sandbox.log" || fail sandbox "writing the sandbox configuration failed"
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

# ---- 5. stream -----------------------------------------------------------
step "producing the history to Kafka (bin/scorer produce)"
start produce "$BIN"/scorer produce --events "$DEMO/events.jsonl" --brokers "$BROKER"

step "streaming (metrics of both services, every second)"
if ! bin/scorer demo-report watch --scorer "$SCORER_URL" --bridge "$BRIDGE_URL" --events "$DEMO/events.jsonl" --timeout 5m; then
	check_alive
	fail scorer "the demo did not finish streaming (see also $LOGS/bridge.log)"
fi
say "$(tail -n 1 "$LOGS/produce.log")"

# ---- 6. report -----------------------------------------------------------
step "report"
bin/scorer demo-report summary --clickhouse "$DSN" --scorer "$SCORER_URL" --bridge "$BRIDGE_URL" \
	--events "$DEMO/events.jsonl" --example-out "$DEMO/example-contact" 2>"$LOGS/report.log" | sed 's/^/    /' ||
	fail report "the report failed"

contact="$(cat "$DEMO/example-contact" 2>/dev/null || echo c-000003)"
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
