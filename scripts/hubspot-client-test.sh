#!/usr/bin/env bash
# HubSpot's official Node client (@hubspot/api-client) against `bridge
# sandbox`, for both Sequences API versions (2026-03 and v4). npm packages
# go to .local/hubspot-client; the sandbox listens on 127.0.0.1:$PORT.
#   HUBSPOT_CLIENT_TEST_PORT [18091]  HUBSPOT_CLIENT_VERSION [13.5.0]
# 13.5.0 is the newest release that runs on Node 20 (14.x wants Node 22).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${HUBSPOT_CLIENT_TEST_PORT:-18091}"
VERSION="${HUBSPOT_CLIENT_VERSION:-13.5.0}"
DIR=.local/hubspot-client

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "hubspot-client-test: node and npm are needed (Node >= 18)" >&2
	exit 1
fi
if [[ ! -f "$DIR/node_modules/@hubspot/api-client/package.json" ]] ||
	! grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/@hubspot/api-client/package.json"; then
	mkdir -p "$DIR"
	npm install --prefix "$DIR" --no-audit --no-fund --silent "@hubspot/api-client@$VERSION"
fi

mkdir -p .local/bin
go build -o .local/bin/bridge ./cmd/bridge
.local/bin/bridge sandbox --addr "127.0.0.1:$PORT" --config testdata/sandbox.yaml >.local/hubspot-client/sandbox.log 2>&1 &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null; wait "$sandbox" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$PORT/_sandbox/stats" >/dev/null && break
	sleep 0.1
done

HUBSPOT_CLIENT_MODULES="$PWD/$DIR/node_modules" \
	node scripts/hubspot-client-test.mjs "http://127.0.0.1:$PORT" sandbox-token-change-me
