package writeback

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/internal/syncbuf"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
)

// While ClickHouse is down the write-back goes on writing HubSpot but
// commits no offset past writes it has not recorded: it retries the
// writeback rows with growing waits, saying so in its log. Once ClickHouse
// is back the rows are stored and the group commits to the end.
func TestWritebackWaitsForClickHouse(t *testing.T) {
	direct, proxied, proxy := analyticstest.BehindProxy(t, "sb_test_wb_outage")
	ctx := ctxFor(t, 2*time.Minute)
	store, err := analytics.Open(ctx, proxied)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := newEnv(t, 1000)
	e.produce(t, 50, 1)
	cfg := config(t, nil)
	var logs syncbuf.Buffer
	proxy.Set(tcpcut.Refuse)
	w := New(Options{Config: cfg, CRM: e.client(t, 200), Recorder: store, Log: zerolog.New(&logs), Consumer: testGroup})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx, e.brokers) }()
	defer func() {
		cancel()
		<-done
	}()

	// HubSpot is written, the rows wait: two retries logged, nothing
	// committed.
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), "could not record writes in ClickHouse") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no retries logged while ClickHouse is down:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), `"retry_in"`) {
		t.Errorf("the retry's log line says no wait:\n%s", logs.String())
	}
	if ok, err := e.committedTo(ctx, cfg.Group, w.k.topic); err != nil || ok {
		t.Fatalf("committed while the writes are not recorded: %v, %v", ok, err)
	}
	if e.sb.BatchUpdates() == 0 {
		t.Fatal("HubSpot was not written while ClickHouse was down")
	}

	proxy.Set(tcpcut.Up)
	for {
		ok, err := e.committedTo(ctx, cfg.Group, w.k.topic)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not committed after ClickHouse came back:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	check, err := analytics.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	rows, err := check.Writeback(ctx, "5000")
	if err != nil || len(rows) == 0 || rows[len(rows)-1].Result != "ok" {
		t.Fatalf("contact 5000's writeback rows after the outage: %+v, %v", rows, err)
	}
}
