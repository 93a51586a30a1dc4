#!/usr/bin/env bash
# Measures Kafka throughput and latency on this machine: builds localkafka
# and kafkabench, starts a private in-memory localkafka on a free loopback
# port, runs the bench, stops the broker. Extra arguments go to kafkabench
# (e.g. --events 200000 --mode throughput). To bench a broker that is
# already running, run `go run ./cmd/kafkabench --brokers HOST:PORT`.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(mktemp -d)
broker_pid=""
cleanup() {
  if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid"
    wait "$broker_pid" || true
  fi
  rm -rf "$bin"
}
trap cleanup EXIT INT TERM

go build -o "$bin/localkafka" ./cmd/localkafka
go build -o "$bin/kafkabench" ./cmd/kafkabench

# Port 0: the broker picks a free port and names it on its ready line.
"$bin/localkafka" --addr 127.0.0.1:0 --seed-topics "" >"$bin/ready" 2>"$bin/broker.log" &
broker_pid=$!
for _ in $(seq 100); do
  grep -q "ready on" "$bin/ready" 2>/dev/null && break
  kill -0 "$broker_pid" 2>/dev/null || { cat "$bin/broker.log" >&2; exit 1; }
  sleep 0.1
done
addr=$(sed -n 's/^localkafka ready on \([^ ]*\).*/\1/p' "$bin/ready")
[[ -n "$addr" ]] || { echo "kafka-bench: localkafka did not become ready" >&2; cat "$bin/broker.log" >&2; exit 1; }
echo "localkafka (pid $broker_pid) on $addr; $(nproc) CPUs shared by broker and bench"

"$bin/kafkabench" --brokers "$addr" "$@"
