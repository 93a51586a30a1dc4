//go:build chdb

package analytics

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The modern-server proof: the same migrations (with their modern
// options), the same Writer and every report query, on ClickHouse 26
// embedded through chDB, must give the answers the tests require of 18.16.
// When CLICKHOUSE_DSN is also set, each report is also compared, JSON for
// JSON, with the same data on the real server.
func TestChDBModernServer(t *testing.T) {
	c, err := openChDB(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx := context.Background()
	// One chDB session, several databases: USE switches the session's.
	use := func(name string) *Store {
		must(t, c.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+name))
		must(t, c.exec(ctx, "USE "+name))
		s := &Store{db: c, database: name}
		must(t, s.init(ctx))
		return s
	}
	s := use("sb_synth")
	t.Logf("chDB server version %s", s.ServerVersion())
	if !featuresFor(s.ServerVersion()).Modern {
		t.Fatalf("chDB reports version %q: not a modern server, the test proves nothing", s.ServerVersion())
	}
	// The modern DDL really was used.
	var typ string
	must(t, each(ctx, c, "SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'touches' AND name = 'type'", func(r rows) error { return r.Scan(&typ) }))
	if typ != "LowCardinality(String)" {
		t.Fatalf("touches.type is %s on the modern server, want LowCardinality(String)", typ)
	}
	var ttl string
	must(t, each(ctx, c, "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'api_calls'", func(r rows) error { return r.Scan(&ttl) }))
	if !strings.Contains(ttl, "TTL") || !strings.Contains(ttl, "CODEC") {
		t.Fatalf("api_calls lacks TTL or CODEC on the modern server: %s", ttl)
	}
	if applied, err := migrate(ctx, c); err != nil || len(applied) != 0 {
		t.Fatalf("second migrate: %v, %v", applied, err)
	}

	h := Synthetic(7, 400, 12, synthStart)
	w := newWriter(c, WriterOptions{BatchSize: 5000})
	loadSynthetic(t, w, h)
	must(t, w.Close(ctx))
	t.Run("attribution", func(t *testing.T) { checkAttribution(t, s, h) })

	s = use("sb_scenario")
	w = newWriter(c, WriterOptions{})
	writeScenario(t, w)
	must(t, w.Close(ctx))
	t.Run("cadence", func(t *testing.T) { checkCadence(t, s) })
	t.Run("timeline", func(t *testing.T) { checkTimelineScoreDecisions(t, s) })
	t.Run("runreport", func(t *testing.T) { checkRunReport(t, s) })

	s = use("sb_cadence")
	w = newWriter(c, WriterOptions{})
	writeCadenceTouches(t, w)
	must(t, w.Close(ctx))
	t.Run("cadence from touches", func(t *testing.T) { checkCadenceTouches(t, s) })

	if os.Getenv("CLICKHOUSE_DSN") == "" {
		t.Log("CLICKHOUSE_DSN unset: chDB answers checked against the reference only")
		return
	}
	// Both servers also get the synthetic enrollments (whose contacts'
	// meeting_booked touches feed the cadence report) and the cadence
	// touch scenario, so the cadence comparison covers every query.
	both := func(w *Writer) {
		loadSynthetic(t, w, h)
		must(t, w.AddEnrollmentEvents(h.Enrollments...))
		writeScenario(t, w)
		writeCadenceTouches(t, w)
	}
	s = use("sb_both")
	w = newWriter(c, WriterOptions{BatchSize: 5000})
	both(w)
	must(t, w.Close(ctx))
	old := openTestStore(t)
	if featuresFor(old.ServerVersion()).Modern {
		t.Logf("CLICKHOUSE_DSN server is %s, not 18.16", old.ServerVersion())
	}
	ow := old.NewWriter(WriterOptions{BatchSize: 5000})
	both(ow)
	must(t, ow.Close(ctx))
	t.Run("same answers as "+old.ServerVersion(), func(t *testing.T) {
		for _, args := range reportInvocations() {
			a, b := runJSON(t, s, args), runJSON(t, old, args)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("report %q differs:\nchDB %s: %v\nserver %s: %v", args, s.ServerVersion(), a, old.ServerVersion(), b)
			}
		}
	})
}

// reportInvocations is every report, in every mode the CLI offers.
func reportInvocations() [][]string {
	var out [][]string
	for _, m := range Models {
		for _, by := range []string{"type", "channel", "utm_source", "visits"} {
			out = append(out, []string{"attribution", "--model", string(m), "--by", by})
		}
		out = append(out, []string{"attribution", "--model", string(m), "--from", "2026-02-10", "--to", "2026-05-01", "--lookback", "30d"})
	}
	out = append(out,
		[]string{"cadence", "--by", "sequence"}, []string{"cadence", "--by", "owner"},
		[]string{"touches", "--contact", "c1"}, []string{"touches", "--contact", "contact-0000042"},
		[]string{"decisions", "--contact", "c1"}, []string{"api-calls", "--contact", "c1"})
	return out
}

func runJSON(t *testing.T, s *Store, args []string) any {
	t.Helper()
	var b strings.Builder
	if err := RunReport(context.Background(), s, append(args, "--format", "json"), &b); err != nil {
		t.Fatalf("%q on %s: %v", args, s.ServerVersion(), err)
	}
	var v any
	must(t, json.Unmarshal([]byte(b.String()), &v))
	return roundFloats(v)
}

// roundFloats hides float summation-order noise (1e-12) between servers
// that return contacts in different orders.
func roundFloats(v any) any {
	switch x := v.(type) {
	case float64:
		return float64(int64(x*1e9+0.5)) / 1e9
	case []any:
		for i := range x {
			x[i] = roundFloats(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = roundFloats(x[k])
		}
	}
	return v
}

var _ = time.Second
