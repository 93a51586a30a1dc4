package analytics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"
)

// testDSN returns CLICKHOUSE_DSN with a database unique to this run, so
// parallel runs and other engineers' tests never see each other's rows.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("CLICKHOUSE_DSN is not set: integration test skipped (start a server with scripts/clickhouse.sh start; export CLICKHOUSE_DSN=$(scripts/clickhouse.sh dsn))")
	}
	return withDatabase(t, dsn, "")
}

func withDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN %q: %v", dsn, err)
	}
	if name == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name = "sb_test_" + hex.EncodeToString(b)
	}
	u.Path = "/" + name
	return u.String()
}

// openTestStore opens a fresh database and drops it when the test ends.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, testDSN(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DropDatabase(ctx); err != nil {
			t.Errorf("dropping %s: %v", s.Database(), err)
		}
		s.Close()
	})
	return s
}

func countRows(t testing.TB, s *Store, q string) uint64 {
	t.Helper()
	rows, err := s.db.query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var n uint64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return n
}

// Migrations must be recorded once and be safe to run again: every service
// runs them at start, and several may start together.
func TestMigrateIdempotent(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		applied, err := migrate(ctx, s.db)
		if err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if len(applied) != 0 {
			t.Fatalf("migrate run %d applied %v again", i+2, applied)
		}
	}
	if got := countRows(t, s, "SELECT count() FROM schema_migrations FINAL"); got != uint64(len(migrations)) {
		t.Fatalf("schema_migrations has %d rows, want %d", got, len(migrations))
	}
	for _, table := range []string{"touches", "score_ledger", "crossings", "decisions", "api_calls", "enrollment_events"} {
		q := "SELECT count() FROM system.tables WHERE database = " + quote(s.Database()) + " AND name = " + quote(table)
		if countRows(t, s, q) != 1 {
			t.Errorf("table %s missing after migrate", table)
		}
	}
}

func TestFeaturesFor(t *testing.T) {
	for _, tc := range []struct {
		version string
		modern  bool
	}{
		{"18.16.1", false},
		{"19.17.4.11", false},
		{"20.3.1", true},
		{"26.5.3.1", true},
		{"", false},
	} {
		if got := featuresFor(tc.version).Modern; got != tc.modern {
			t.Errorf("featuresFor(%q).Modern = %v, want %v", tc.version, got, tc.modern)
		}
	}
}

func TestDDLPlaceholders(t *testing.T) {
	old := ddl(features{}, "a LC(String), b String{zstd}{ttl_audit}")
	if old != "a String, b String" {
		t.Errorf("18.16 DDL = %q", old)
	}
	mod := ddl(features{Modern: true}, "a LC(String), b String{zstd}{ttl_audit}")
	if mod != "a LowCardinality(String), b String CODEC(ZSTD(1))\nTTL at + INTERVAL 400 DAY" {
		t.Errorf("modern DDL = %q", mod)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "'plain'",
		"it's":        `'it\'s'`,
		`back\slash`:  `'back\\slash'`,
		"nul\x00byte": `'nul\0byte'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// A hostile string must round-trip through quote unchanged, or report
// filters could be escaped from.
func TestQuoteRoundTrip(t *testing.T) {
	s := openTestStore(t)
	for _, in := range []string{"it's", `a\'b`, "x\\", "line\nbreak", "tab\t", "ünï"} {
		rows, err := s.db.query(context.Background(), "SELECT "+quote(in))
		if err != nil {
			t.Fatalf("quote(%q): %v", in, err)
		}
		var got string
		rows.Next()
		if err := rows.Scan(&got); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if got != in {
			t.Errorf("round trip of %q gave %q", in, got)
		}
	}
}
