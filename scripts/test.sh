#!/usr/bin/env bash
# The project's test command (README, `make test`, CI): formatting, vet,
# then every test against real services this script starts itself: a
# private ClickHouse server on loopback (installed from Debian's packages
# when missing) and in-process Kafka brokers (franz-go's kfake over TCP).
# Set CLICKHOUSE_DSN to use a server you already run instead.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

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

for extra in scripts/chdb-test.sh scripts/kill9-scorer.sh; do
	if [[ -x "$extra" ]]; then
		step "$extra"
		"$extra"
	fi
done
step "all tests passed"
