// Package sandboxtest holds what the HubSpot client's tests and the
// sandbox's own tests share: the test account, a sandbox on loopback, and a
// client against it that records its audited calls.
package sandboxtest

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

// Token is the private app token YAML's account accepts.
const Token = "pat-na1-TEST-5ecr3t-token"

// YAML is the test account: three senders (one without a connected inbox),
// three sequences, two workflows, contacts created on first use.
const YAML = `
token: ` + Token + `
rate_limit: {max: 1000, interval: 1s, daily: 100000}
contacts_auto: true
contact_email_template: "c{id}@example.net"
contacts:
  - {id: "1001", email: "dana@northwind.example"}
senders:
  - {user_id: "101", owner_id: "u-1", email: "ana@example.com", daily_send_cap: 5}
  - {user_id: "102", owner_id: "u-2", email: "ben@example.com"}
  - {user_id: "108", owner_id: "u-8", email: "hugo@example.com", inbox_connected: false}
sequences:
  - id: "9001"
    name: "Inbound demo request"
    user_id: "101"
    steps:
      - {action: EMAIL}
      - {action: TASK, task_type: CALL, delay: 1h}
      - {action: EMAIL, delay: 1h}
      - {action: EMAIL, delay: 2h}
  - id: "9002"
    name: "Webinar follow-up"
    user_id: "102"
    settings: {eligible_follow_up_days: WEEKDAYS_ONLY, send_window_start_minute: 540, send_window_end_minute: 1020}
    steps:
      - {action: EMAIL}
      - {action: EMAIL, delay_days: 2}
  - id: "9010"
    name: "Closed-lost re-engagement"
    steps:
      - {action: EMAIL}
workflows:
  - {id: 5001, name: "Nurture - product education"}
  - {id: 5002, name: "Nurture - events"}
`

// Config parses YAML and applies mutate (when not nil).
func Config(t testing.TB, mutate func(*sandbox.Config)) *sandbox.Config {
	t.Helper()
	cfg, err := sandbox.ParseConfig([]byte(YAML))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

// Start starts a sandbox of Config(t, mutate) on loopback, closed when
// the test ends.
func Start(t testing.TB, mutate func(*sandbox.Config)) (*sandbox.Sandbox, *httptest.Server) {
	t.Helper()
	sb, err := sandbox.New(Config(t, mutate), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

// AuditLog collects a client's audited calls.
type AuditLog struct {
	mu    sync.Mutex
	calls []hubspot.Call
}

// Record is the client's Audit function.
func (a *AuditLog) Record(c hubspot.Call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, c)
}

// All returns the calls recorded so far.
func (a *AuditLog) All() []hubspot.Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]hubspot.Call(nil), a.calls...)
}

// Ops returns the calls recorded so far whose Op is op.
func (a *AuditLog) Ops(op string) []hubspot.Call {
	var out []hubspot.Call
	for _, c := range a.All() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// NewClient returns a client for baseURL with Token, fast retries and an
// AuditLog, mutate applied to its configuration (when not nil).
func NewClient(t testing.TB, baseURL string, mutate func(*hubspot.ClientConfig)) (*hubspot.Client, *AuditLog) {
	t.Helper()
	log := &AuditLog{}
	cfg := hubspot.ClientConfig{
		BaseURL: baseURL, Token: Token,
		RequestsPerInterval: 1000, Interval: time.Second,
		MaxAttempts: 4, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		AttemptTimeout: 2 * time.Second, Audit: log.Record,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := hubspot.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, log
}
