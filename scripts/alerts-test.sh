#!/usr/bin/env bash
# The alerting rules of docs/alerts: `promtool check rules` and `promtool
# test rules`. promtool comes with Debian's `prometheus` package; without it
# the script says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/../docs/alerts"
if ! command -v promtool >/dev/null; then
	echo "alerts-test: promtool not installed (apt-get install prometheus); rules not checked"
	exit 0
fi
promtool check rules scorebridge.rules.yaml
promtool test rules scorebridge.rules.test.yaml
