#!/usr/bin/env bash
# Runs the analytics package's modern-server proof: the schema and every
# report query on ClickHouse 26 embedded through chDB (cgo, build tag chdb).
# Fetches libchdb.so from npm (@chdb/lib-linux-x64-gnu, ~170 MB download,
# ~560 MB unpacked) into .local/chdb when missing; it is never committed.
# When CLICKHOUSE_DSN is set, answers are also compared with that server's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_DIR="$ROOT/.local/chdb"
if [[ ! -f "$LIB_DIR/package/libchdb.so" ]]; then
	command -v npm >/dev/null || { echo "chdb-test.sh: npm is needed to fetch @chdb/lib-linux-x64-gnu" >&2; exit 1; }
	mkdir -p "$LIB_DIR"
	echo "chdb-test.sh: fetching @chdb/lib-linux-x64-gnu (npm pack, no install scripts run)" >&2
	(cd "$LIB_DIR" && npm pack --silent @chdb/lib-linux-x64-gnu >/dev/null && tar xzf chdb-lib-linux-x64-gnu-*.tgz && rm -f chdb-lib-linux-x64-gnu-*.tgz)
fi
command -v gcc >/dev/null || command -v cc >/dev/null || { echo "chdb-test.sh: a C compiler is needed for cgo (apt-get install -y gcc)" >&2; exit 1; }
cd "$ROOT"
CGO_ENABLED=1 go test -tags chdb -count=1 -run 'ChDB' "$@" ./analytics/...
