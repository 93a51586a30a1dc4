#!/bin/sh
# End-to-end bridge benchmark: crossings produced to an in-process Kafka
# (kfake over TCP) -> `bridge run`'s service -> enrollment calls against the
# HubSpot sandbox over loopback. Prints p50/p99/max latency from produce to
# enrollment call (paced under the limit) and the sustained enrollment rate
# with a backlog, at HubSpot's 190 requests/10 s and at a limit high enough
# to show the bridge's own ceiling. Extra flags go to `bridge bench`.
set -eu
cd "$(dirname "$0")/.."
go build -o bin/bridge ./cmd/bridge
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec bin/bridge bench --rates 190,100000 "$@"
