package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
)

const testToken = "pat-na1-TEST-5ecr3t-token"

const testYAML = `
token: ` + testToken + `
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

func testConfig(t testing.TB, mutate func(*Config)) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

// newEnv starts a sandbox on loopback.
func newEnv(t testing.TB, mutate func(*Config)) (*Sandbox, *httptest.Server) {
	t.Helper()
	sb, err := New(testConfig(t, mutate), Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

// auditLog collects audited calls.
type auditLog struct {
	mu    sync.Mutex
	calls []hubspot.Call
}

func (a *auditLog) record(c hubspot.Call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, c)
}

func (a *auditLog) all() []hubspot.Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]hubspot.Call(nil), a.calls...)
}

func (a *auditLog) ops(op string) []hubspot.Call {
	var out []hubspot.Call
	for _, c := range a.all() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func newTestClient(t testing.TB, baseURL string, mutate func(*hubspot.ClientConfig)) (*hubspot.Client, *auditLog) {
	t.Helper()
	log := &auditLog{}
	cfg := hubspot.ClientConfig{
		BaseURL: baseURL, Token: testToken,
		RequestsPerInterval: 1000, Interval: time.Second,
		MaxAttempts: 4, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		AttemptTimeout: 2 * time.Second, Audit: log.record,
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

// raw sends a request with the test token (or none when token is "").
func raw(t testing.TB, srv *httptest.Server, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp, m
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
