// Package analyticstest gives tests a ClickHouse database of their own on
// the shared server named by CLICKHOUSE_DSN, dropped when the test ends,
// and the same database behind a proxy the test can cut for outages.
// Only tests import it.
package analyticstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
)

// DSN is CLICKHOUSE_DSN with a fresh database named prefix_N, dropped when
// the test ends; without CLICKHOUSE_DSN the test is skipped.
func DSN(t testing.TB, prefix string) string {
	t.Helper()
	dsn := os.Getenv("CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("CLICKHOUSE_DSN is not set: ClickHouse test skipped (start a server with scripts/clickhouse.sh start; export CLICKHOUSE_DSN=$(scripts/clickhouse.sh dsn))")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN %q: %v", dsn, err)
	}
	u.Path = fmt.Sprintf("/%s_%d", prefix, rand.Uint32())
	direct := u.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s, err := analytics.Open(ctx, direct); err == nil {
			s.DropDatabase(ctx)
			s.Close()
		}
	})
	return direct
}

// BehindProxy is a fresh database as DSN gives it: direct reaches it
// always, proxied through proxy, which the test cuts to make an outage of
// the shared server without stopping it.
func BehindProxy(t testing.TB, prefix string) (direct, proxied string, proxy *tcpcut.Proxy) {
	t.Helper()
	direct = DSN(t, prefix)
	proxy, proxied = tcpcut.Through(t, direct)
	return direct, proxied, proxy
}
