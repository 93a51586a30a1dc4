#!/usr/bin/env bash
# Measures what the README's performance section reports, each against a
# baseline taken in the same run, and prints the ratios. Figures only: no
# timing is asserted anywhere. Takes ~5 minutes; set QUICK=1 for ~1.
#   scoring: BenchmarkScore (100 and 1,000 groups; batches, as the
#            service scores) and BenchmarkScoreEach vs BenchmarkBaseline
#   decode:  events.Decode vs goccy/go-json and encoding/json
#   backtest: the streaming backtest, RunParallel (scorer backtest), History
#            (decode once, a shard per core) and a rescoring of the held
#            history (the studio's preview), each vs the naive baseline
#   kafka:   raw kafka-go / kgo consumption vs the scorer end to end, and
#            latency from an event's produce to its crossing's produce
#   clickhouse (when CLICKHOUSE_DSN is set): writer rows/s, report times
#   bridge:  crossing -> enrollment call against the sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
events=1000000
benchtime=3s
[[ -n "${QUICK:-}" ]] && events=200000 && benchtime=1s

printf '== load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n== scoring core, on one core (GOMAXPROCS=1: the collector runs on the same core)\n'
out="$(go test ./scoring -run XXX -bench '^Benchmark(Score|ScoreEach|Baseline)$' -cpu 1 -benchtime "$benchtime" -count 3)"
echo "$out" | grep '^Benchmark'
echo "$out" | awk '
	function rate(   i) { for (i = 1; i <= NF; i++) if ($(i+1) == "events/cpu-s") return $i }
	/^BenchmarkScore\/groups=100[ \t]/ { s100 = s100 " " rate() }
	/^BenchmarkScore\/groups=1000[ \t]/ { s1000 = s1000 " " rate() }
	/^BenchmarkScoreEach[ \t]/ { each = each " " rate() }
	/^BenchmarkBaseline[ \t]/ { base = base " " rate() }
	function median(list,   a, n, i, j, t) { n = split(list, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
	END {
		b = median(base); x = median(s100); y = median(s1000); z = median(each)
		printf "median events/cpu-s: 100 groups %.0f (%.1fx baseline), one event at a time %.0f (%.1fx), 1,000 groups %.0f, baseline (every when, no index) %.0f\n", x, x / b, z, z / b, y, b
	}'

printf '\n== event decoding (CPU per event; ratios against the goccy/go-json and encoding/json paths, same run)\n'
go test ./events -run XXX -bench Decode -benchtime "$benchtime" | grep '^Benchmark'

printf '\n== backtest vs the naive baseline (decode on one core, every group'"'"'s when tested, no index; run before and after the others, their mean): streaming on one core (scorer backtest --stream), every core (scorer backtest), loading into memory (the studio), a preview (the held history scored again)\n'
naive1="$(go test ./backtest -run XXX -bench '^BenchmarkBacktestNaive$' -benchtime 1x -count 1)"
out="$(go test ./backtest -run XXX -bench '^BenchmarkBacktest(Stream|Parallel|LoadRun|Held)$' -benchtime 3x -count 1)"
naive2="$(go test ./backtest -run XXX -bench '^BenchmarkBacktestNaive$' -benchtime 1x -count 1)"
printf '%s\n%s\n%s\n' "$naive1" "$out" "$naive2" | grep '^Benchmark'
printf '%s\n%s\n%s\n' "$naive1" "$out" "$naive2" | awk '
	function metric(name,   i) { for (i = 1; i <= NF; i++) if ($(i+1) == name) return $i }
	/^BenchmarkBacktestNaive/ { nw += metric("ns/event"); nc += metric("cpu-ns/event"); nn++ }
	/^BenchmarkBacktest(Stream|Parallel|LoadRun|Held)/ { name[++k] = $1; w[k] = metric("ns/event"); c[k] = metric("cpu-ns/event") }
	END {
		nw /= nn; nc /= nn
		printf "naive baseline: %.0f ns/event wall, %.0f CPU (load average %s)\n", nw, nc, load
		for (i = 1; i <= k; i++) printf "%-32s %6.0f ns/event wall %6.0f CPU: %5.1fx the naive baseline in wall time, %5.1fx in CPU\n", name[i], w[i], c[i], nw / w[i], nc / c[i]
	}' load="$(cut -d' ' -f1-3 /proc/loadavg)"

printf '\n== kafka: raw consumption vs the scorer end to end (embedded broker)\n'
go run ./cmd/kafkabench --embedded --events "$events" --contacts 100000 --rounds 1 --mode both --duration 15s 2>/dev/null

if [[ -n "${CLICKHOUSE_DSN:-}" ]]; then
	printf '\n== clickhouse: writer and reports\n'
	touches=1000000,10000000
	[[ -n "${QUICK:-}" ]] && touches=1000000
	go run ./cmd/chbench -dsn "$CLICKHOUSE_DSN" -touches "$touches"
else
	printf '\n== clickhouse: skipped (set CLICKHOUSE_DSN, e.g. $(scripts/clickhouse.sh dsn))\n'
fi

printf '\n== bridge: crossing -> enrollment against the sandbox\n'
if [[ -x scripts/bridge-bench.sh ]]; then scripts/bridge-bench.sh; fi
printf '\n== load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
