package chbench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
)

// A small run against the test server prints the writer's figure and a
// line per report, and drops its database.
func TestRun(t *testing.T) {
	check := analyticstest.DSN(t, "sb_chbench_check") // skips without CLICKHOUSE_DSN
	dsn := os.Getenv("CLICKHOUSE_DSN")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, &out, dsn, 1237, 10, 500, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"== 1237 touches", "database sb_bench_1237)", "writer: ", "attribution w by type", "cadence by owner", "touches timeline of one contact"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	s, err := analytics.Open(ctx, check)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Query(ctx, "SELECT count() FROM system.databases WHERE name = "+analytics.Quote("sb_bench_1237"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n uint64
	if !rows.Next() || rows.Scan(&n) != nil || n != 0 {
		t.Errorf("sb_bench_1237 left behind (%d)", n)
	}
}

func TestDSNFor(t *testing.T) {
	for in, want := range map[string]string{
		"clickhouse://127.0.0.1:9000/default":         "clickhouse://127.0.0.1:9000/x",
		"clickhouse://127.0.0.1:9000":                 "clickhouse://127.0.0.1:9000/x",
		"clickhouse://127.0.0.1:9000/default?debug=1": "clickhouse://127.0.0.1:9000/x?debug=1",
	} {
		if got := dsnFor(in, "x"); got != want {
			t.Errorf("dsnFor(%q) = %q, want %q", in, got, want)
		}
	}
}
