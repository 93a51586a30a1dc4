#!/usr/bin/env bash
# Resident memory of `scorer run` per contact: generates a history of
# CONTACTS (default 1,000,000) contacts over DAYS (7), produces it to a
# private local broker, lets the real scorer binary (sample rules, no
# ClickHouse) consume all of it, then reads its VmRSS. Prints bytes per
# contact. Takes ~3-5 minutes for 1M contacts on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
DAYS="${DAYS:-7}"
work="$(mktemp -d /tmp/scorer-memory.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

go build -o bin/ ./cmd/scorer ./cmd/localkafka
kport="$(free_port)"; hport="$(free_port)"
bin/localkafka --addr "127.0.0.1:$kport" --seed-topics engagement-events:6 >"$work/kafka.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/kafka.log" && break; sleep 0.1; done
echo "generating $CONTACTS contacts over $DAYS days"
bin/scorer generate --contacts "$CONTACTS" --companies $((CONTACTS / 7)) --days "$DAYS" >"$work/events.jsonl"
events="$(wc -l <"$work/events.jsonl")"
bin/scorer produce --brokers "127.0.0.1:$kport" --events "$work/events.jsonl"
start=$(date +%s)
bin/scorer run --rules testdata/rules --brokers "127.0.0.1:$kport" --http "127.0.0.1:$hport" --log-level warn 2>"$work/scorer.log" &
spid=$!; pids+=($spid)
while :; do
	sleep 2
	lag="$(bin/scorer state lag --brokers "127.0.0.1:$kport" --topic engagement-events --group scorer 2>/dev/null | awk '/total lag/ {print $3}')"
	[[ "$lag" == "0" ]] && break
	kill -0 "$spid" 2>/dev/null || { echo "scorer died:"; tail "$work/scorer.log"; exit 1; }
done
took=$(( $(date +%s) - start ))
contacts="$(curl -s "127.0.0.1:$hport/metrics" | awk '/^scorer_contacts / {print $2}')"
rss_kb="$(awk '/VmRSS/ {print $2}' /proc/$spid/status)"
awk -v rss="$rss_kb" -v c="$contacts" -v e="$events" -v t="$took" 'BEGIN {
	printf "%d events, %d contacts consumed in %ds; scorer RSS %.0f MiB = %.0f bytes per contact (Go heap, maps, Kafka buffers and all)\n", e, c, t, rss / 1024, rss * 1024 / c
}'
