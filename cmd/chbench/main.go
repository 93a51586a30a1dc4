// Command chbench measures the analytics writer's throughput into a real
// ClickHouse server and each report's time over synthetic histories.
//
//	go run ./cmd/chbench -dsn clickhouse://127.0.0.1:9000/default -touches 1000000,10000000
//
// Each size gets its own database (sb_bench_<n>), dropped afterwards unless
// -keep. Figures are printed, never asserted. The benchmark is
// cmd/internal/chbench.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/scorebridge/scorebridge/cmd/internal/chbench"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("CLICKHOUSE_DSN"), "ClickHouse DSN (database part is replaced)")
	sizes := flag.String("touches", "1000000", "comma-separated history sizes")
	per := flag.Int("per-contact", 20, "average touches per contact")
	batch := flag.Int("batch", 100_000, "writer batch size")
	keep := flag.Bool("keep", false, "keep the benchmark databases")
	flag.Parse()
	if *dsn == "" {
		fmt.Fprintln(os.Stderr, "chbench: set -dsn or CLICKHOUSE_DSN (scripts/clickhouse.sh dsn)")
		os.Exit(2)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "chbench: bad size %q\n", s)
			os.Exit(2)
		}
		if err := chbench.Run(context.Background(), os.Stdout, *dsn, n, *per, *batch, *keep); err != nil {
			fmt.Fprintln(os.Stderr, "chbench:", err)
			os.Exit(1)
		}
	}
}
