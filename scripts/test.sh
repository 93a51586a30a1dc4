#!/usr/bin/env bash
# The project's test command (README, `make test`, CI): formatting, vet,
# then every test against real services this script starts itself: a
# private ClickHouse server on loopback (installed from Debian's packages
# when missing) and in-process Kafka brokers (franz-go's kfake over TCP).
# Set CLICKHOUSE_DSN to use a server you already run instead.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# The scripts below use jq, curl and promtool (alerts-test.sh); a machine
# without them gets them from Debian's packages (as root, like ClickHouse).
missing=()
for tool in jq curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
command -v promtool >/dev/null || missing+=(prometheus)
if (( ${#missing[@]} )); then
	step "installing ${missing[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}"; }
fi

# The studio's browser tests drive Debian's chromium (headless); they are
# skipped, with a message saying so, only when it cannot be installed.
if ! command -v chromium >/dev/null; then
	step "installing chromium for the studio's browser tests (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q chromium >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } ||
		echo "chromium could not be installed: the studio's browser tests will be skipped"
fi

step "gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go'))"
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

started_ch=""
if [[ -z "${CLICKHOUSE_DSN:-}" ]]; then
	step "ClickHouse (private server on loopback)"
	# Stop it at the end only if this run started it.
	scripts/clickhouse.sh status >/dev/null 2>&1 || started_ch=1
	scripts/clickhouse.sh start
	CLICKHOUSE_DSN="$(scripts/clickhouse.sh dsn)"
	export CLICKHOUSE_DSN
fi
cleanup() { [[ -n "$started_ch" ]] && scripts/clickhouse.sh stop || true; }
trap cleanup EXIT
echo "CLICKHOUSE_DSN=$CLICKHOUSE_DSN"

step "go test -race ./..."
go test -race -count=1 -timeout 20m ./...

for extra in scripts/chdb-test.sh scripts/kill9-scorer.sh scripts/faults-scorer.sh scripts/kill9-scorer-clickhouse.sh \
	scripts/kill9-bridge.sh scripts/kill9-writeback.sh scripts/hubspot-client-test.sh scripts/alerts-test.sh; do
	if [[ -x "$extra" ]]; then
		step "$extra"
		"$extra"
	fi
done
step "all tests passed"
