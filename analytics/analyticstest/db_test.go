package analyticstest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
)

// exists says whether the server behind dsn has the database name.
func exists(t *testing.T, dsn, name string) bool {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	opts.Auth.Database = "default"
	c, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n uint64
	if err := c.QueryRow(context.Background(), "SELECT count() FROM system.databases WHERE name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// A test's database is its own, reachable directly and through the proxy
// until the proxy is cut, and gone when the test ends.
func TestBehindProxy(t *testing.T) {
	var direct, name string
	t.Run("use", func(t *testing.T) {
		var proxied string
		var proxy *tcpcut.Proxy
		direct, proxied, proxy = BehindProxy(t, "sb_analyticstest")
		u, err := url.Parse(direct)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		if !strings.HasPrefix(name, "sb_analyticstest_") {
			t.Fatalf("database %q does not carry the prefix", name)
		}
		if other := DSN(t, "sb_analyticstest"); other == direct {
			t.Fatalf("two calls gave the same database %q", other)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := analytics.Open(ctx, proxied)
		if err != nil {
			t.Fatalf("through the proxy: %v", err)
		}
		s.Close()
		if !exists(t, direct, name) {
			t.Fatalf("database %s missing after Open", name)
		}
		proxy.Set(tcpcut.Refuse)
		if s, err := analytics.Open(ctx, proxied); err == nil {
			s.Close()
			t.Fatal("Open succeeded through a refusing proxy")
		}
	})
	if name != "" && exists(t, direct, name) {
		t.Errorf("database %s left behind after the test", name)
	}
}
