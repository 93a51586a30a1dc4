package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/scorebridge/scorebridge/cmd/internal/bridgebench"
)

// cmdBench maps `bridge bench`'s flags to bridgebench.Options.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := flags("bench", stderr)
	rates := fs.String("rates", "190,100000", "client request limits per 10 s to measure, comma-separated")
	n := fs.Int("crossings", 600, "backlog of crossings for the throughput phase")
	latN := fs.Int("latency-crossings", 100, "crossings of the latency phase")
	latRate := fs.Float64("latency-rate", 10, "crossings per second in the latency phase (keep it under the limit)")
	parts := fs.Int("partitions", 4, "partitions of the crossings topic")
	workers := fs.Int("workers", 32, "bridge workers")
	sandbox := fs.String("sandbox-config", "testdata/sandbox.yaml", "sandbox configuration")
	ch := fs.String("clickhouse", "", "ClickHouse DSN for the audit (a fresh database per rate, dropped after); empty: local audit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := bridgebench.Options{Crossings: *n, LatencyCrossings: *latN, LatencyRate: *latRate, Partitions: *parts,
		Workers: *workers, SandboxConfig: *sandbox, ClickHouse: *ch, Out: stdout}
	for _, r := range splitList(*rates) {
		rate, err := strconv.Atoi(r)
		if err != nil || rate < 2 {
			return fmt.Errorf("--rates: bad limit %q", r)
		}
		o.Rates = append(o.Rates, rate)
	}
	return bridgebench.Run(o)
}
