package bridge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/bridge"
	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
	"github.com/scorebridge/scorebridge/internal/syncbuf"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
)

// Started while ClickHouse is down, the bridge waits for it (logging and
// counting each attempt, /healthz answering) instead of exiting, consumes
// once it is back, and a stop while ClickHouse hangs returns in bounded
// time.
func TestRunWaitsForClickHouseAndStopsDuringOutage(t *testing.T) {
	_, proxied, proxy := analyticstest.BehindProxy(t, "sb_bridge_outage")

	e := bt.NewEnv(t, 190)
	o := e.Options(nil)
	o.ClickHouse = proxied
	proxy.Set(tcpcut.Refuse)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &bt.Running{Cancel: cancel, Done: make(chan error, 1), Log: &syncbuf.Buffer{}}
	o.Log = r.Log
	ready := make(chan string, 1)
	o.OnReady = func(addr string) { ready <- addr }
	go func() { r.Done <- bridge.Run(ctx, o) }()

	const waiting = "ClickHouse unavailable at start; waiting for it (the bridge consumes once it answers)"
	bt.WaitFor(t, 20*time.Second, "two failed attempts logged", func() bool { return strings.Count(r.Log.String(), waiting) >= 2 })
	select {
	case err := <-r.Done:
		t.Fatalf("the bridge exited while ClickHouse was down at start: %v", err)
	default:
	}
	line := grep(r.Log.String(), waiting)
	a := line[strings.Index(line, `"http":"`)+8:]
	r.Addr = a[:strings.Index(a, `"`)]
	if got := r.Get(t, "/healthz"); got != "ok\n" {
		t.Errorf("healthz while waiting: %q", got)
	}
	if got := r.Get(t, "/readyz"); got == "ready\n" {
		t.Error("ready while waiting for ClickHouse")
	}
	if n := r.Metric(t, `bridge_errors_total{kind="clickhouse"}`); n < 2 {
		t.Errorf("bridge_errors_total{kind=\"clickhouse\"} = %v while waiting", n)
	}

	proxy.Set(tcpcut.Up)
	select {
	case <-ready:
	case err := <-r.Done:
		t.Fatalf("bridge exited: %v\n%s", err, r.Log)
	case <-time.After(30 * time.Second):
		t.Fatalf("not consuming 30 s after ClickHouse came back\n%s", r.Log)
	}
	bt.WaitFor(t, 20*time.Second, "readyz", func() bool { return r.Get(t, "/readyz") == "ready\n" })
	contact := "outage-" + time.Now().UTC().Format("150405.000000")
	e.Produce(t, bt.Crossing(contact, "engagement", "sales", "u-1", "lead"))
	bt.WaitFor(t, 20*time.Second, "the decision in ClickHouse", func() bool {
		a := r.Decisions(t, contact)
		return a.Source == "clickhouse" && len(a.Decisions) == 1
	})

	// ClickHouse hangs with audit rows pending; the stop is bounded.
	proxy.Set(tcpcut.Hang)
	e.Produce(t, bt.Crossing(contact+"-2", "engagement", "sales", "u-1", "lead"))
	time.Sleep(time.Second)
	start := time.Now()
	cancel()
	select {
	case err := <-r.Done:
		if err != nil {
			t.Errorf("stop during the outage: %v", err)
		}
		t.Logf("stopped in %v with ClickHouse hanging", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge did not stop within 20 s while ClickHouse hangs")
	}
}

// While the audit's ClickHouse writer fails, with no traffic (its idle
// ping) or with decisions to store (inserts), /readyz answers 503 and
// says why, as the scorer's does; it is ready again once ClickHouse
// answers, and the decision made during the outage reaches ClickHouse.
func TestReadyzWhileClickHouseFails(t *testing.T) {
	_, proxied, proxy := analyticstest.BehindProxy(t, "sb_bridge_readyz")

	e := bt.NewEnv(t, 190)
	o := e.Options(nil)
	o.ClickHouse = proxied
	r := bt.Start(t, o)
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + r.Addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ready := func() bool { code, body := readyz(); return code == http.StatusOK && body == "ready\n" }
	contact := "readyz-" + time.Now().UTC().Format("150405.000000")
	e.Produce(t, bt.Crossing(contact, "engagement", "sales", "u-1", "lead"))
	bt.WaitFor(t, 20*time.Second, "the decision in ClickHouse", func() bool {
		a := r.Decisions(t, contact)
		return a.Source == "clickhouse" && len(a.Decisions) == 1
	})
	// The outboxes empty only once ClickHouse took every row (the
	// decision's enrollment event may still be on its way): then the
	// writer is idle.
	bt.WaitFor(t, 20*time.Second, "the audit outboxes empty", func() bool {
		return r.Metric(t, "bridge_outbox_decisions") == 0 && r.Metric(t, "bridge_outbox_api_calls") == 0
	})
	if !ready() {
		code, body := readyz()
		t.Fatalf("/readyz %d %q with ClickHouse up", code, body)
	}
	if v := r.Metric(t, "bridge_clickhouse_failing_seconds"); v != 0 {
		t.Fatalf("bridge_clickhouse_failing_seconds = %v with ClickHouse up, want 0", v)
	}

	// No traffic: the writer's idle ping finds the outage.
	proxy.Set(tcpcut.Refuse)
	var code int
	var body string
	bt.WaitFor(t, 30*time.Second, "/readyz 503 from the failed idle ping", func() bool {
		code, body = readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "ClickHouse failing") && strings.Contains(body, "ping")
	})
	t.Logf("idle outage: /readyz %d %q", code, strings.TrimSpace(body))
	bt.WaitFor(t, 10*time.Second, "bridge_clickhouse_failing_seconds counting up", func() bool {
		return r.Metric(t, "bridge_clickhouse_failing_seconds") > 0
	})
	proxy.Set(tcpcut.Up)
	bt.WaitFor(t, 30*time.Second, "/readyz 200 once ClickHouse answers the ping", ready)
	if v := r.Metric(t, "bridge_clickhouse_failing_seconds"); v != 0 {
		t.Fatalf("bridge_clickhouse_failing_seconds = %v once ClickHouse answers, want 0", v)
	}

	// A decision during the outage: its insert fails and is retried.
	proxy.Set(tcpcut.Refuse)
	e.Produce(t, bt.Crossing(contact+"-2", "engagement", "sales", "u-1", "lead"))
	bt.WaitFor(t, 30*time.Second, "/readyz 503 while the audit's inserts fail", func() bool {
		code, body = readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "ClickHouse failing") &&
			strings.Contains(r.Log.String(), "ClickHouse insert failed; retrying") &&
			r.Metric(t, "bridge_outbox_decisions") > 0
	})
	t.Logf("outage with traffic: /readyz %d %q", code, strings.TrimSpace(body))
	proxy.Set(tcpcut.Up)
	bt.WaitFor(t, 30*time.Second, "the outage's decision in ClickHouse", func() bool {
		a := r.Decisions(t, contact+"-2")
		return a.Source == "clickhouse" && len(a.Decisions) == 1
	})
	bt.WaitFor(t, 30*time.Second, "/readyz 200 after the outage", ready)
}
