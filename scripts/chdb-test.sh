#!/usr/bin/env bash
# Runs the analytics package's modern-server proof: the schema and every
# report query on ClickHouse 26 embedded through chDB (cgo, build tag chdb).
# Fetches libchdb.so from npm (@chdb/lib-linux-x64-gnu, ~170 MB download,
# ~560 MB unpacked) into .local/chdb when missing; it is never committed.
# When CLICKHOUSE_DSN is set, answers are also compared with that server's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_DIR="$ROOT/.local/chdb"
# The version verified with this test; npm pack takes the same pinned one.
CHDB_VERSION="${CHDB_VERSION:-26.5.3}"
if [[ ! -f "$LIB_DIR/package/libchdb.so" ]]; then
	mkdir -p "$LIB_DIR"
	echo "chdb-test.sh: fetching @chdb/lib-linux-x64-gnu@$CHDB_VERSION (no install scripts run)" >&2
	tgz="$LIB_DIR/chdb-lib-linux-x64-gnu-$CHDB_VERSION.tgz"
	url="https://registry.npmjs.org/@chdb/lib-linux-x64-gnu/-/lib-linux-x64-gnu-$CHDB_VERSION.tgz"
	if command -v npm >/dev/null; then
		(cd "$LIB_DIR" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null)
	elif command -v curl >/dev/null; then
		curl -fsSL -o "$tgz" "$url"
	elif command -v wget >/dev/null; then
		wget -q -O "$tgz" "$url"
	else
		echo "chdb-test.sh: need npm, curl or wget to fetch $url" >&2
		exit 1
	fi
	tar xzf "$tgz" -C "$LIB_DIR" && rm -f "$tgz"
fi
if ! command -v gcc >/dev/null && ! command -v cc >/dev/null; then
	# cgo needs a C compiler; a fresh machine with only Go has none.
	[[ $(id -u) -eq 0 ]] || { echo "chdb-test.sh: cgo needs gcc (apt-get install -y gcc)" >&2; exit 1; }
	echo "chdb-test.sh: installing gcc for cgo (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q gcc libc6-dev >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q gcc libc6-dev >/dev/null; }
fi
cd "$ROOT"
CGO_ENABLED=1 go test -tags chdb -count=1 -run 'ChDB' "$@" ./analytics/...
