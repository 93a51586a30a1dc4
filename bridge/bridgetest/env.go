// Package bridgetest runs the bridge service in tests: a broker (kfake),
// the HubSpot sandbox and a bridge configuration over loopback, a bridge
// started on them, and readers of its HTTP answers. Only tests import it.
package bridgetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/bridge"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/internal/syncbuf"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The test topics, partitions and the sandbox's HubSpot token.
const (
	Topic      = "crossings"
	DLQ        = "crossings-dlq"
	Token      = "sandbox-token-change-me"
	Partitions = 3
)

// Env is a broker, a HubSpot sandbox and a bridge configuration, all
// over loopback.
type Env struct {
	Brokers  []string
	Sandbox  *sandbox.Sandbox
	HubURL   string
	Config   string
	StateDir string
	Producer *stream.Producer
}

// SandboxConfig is the repository's sandbox configuration, wherever the
// test runs.
var SandboxConfig = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "sandbox.yaml")
}()

const bridgeYAML = `sink: hubspot
hubspot: {base_url: %q, requests_per_10s: %d}
senders:
  - {owner_id: "u-1", user_id: "101", email: "ana@example.com"}
  - {owner_id: "u-2", user_id: "102", email: "ben@example.com", daily_enrollments: 2}
routes:
  - {model: engagement, threshold: sales, when: 'contact.lifecycle_stage == "lead"', sequence_id: "9001", tags: [pricing]}
  - {model: engagement, threshold: nurture, workflow_id: "5001", tags: [pricing]}
  - {model: fit, sequence_id: "9002"}
suppress: {lifecycle_stages: [customer]}
hold: {retry_after: 1s}
`

// NewEnv starts a broker with the crossings and dead-letter topics, the
// sandbox (its limit at least 190 per 10 s) and writes a bridge
// configuration whose client is limited to rate requests per 10 s.
func NewEnv(t *testing.T, rate int) *Env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &Env{Brokers: c.ListenAddrs(), StateDir: t.TempDir()}
	ctx := Context(t, 30*time.Second)
	if err := stream.EnsureTopics(ctx, e.Brokers,
		stream.Topic{Name: Topic, Partitions: Partitions}, stream.Topic{Name: DLQ, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	scfg, err := sandbox.LoadConfig(SandboxConfig)
	if err != nil {
		t.Fatal(err)
	}
	scfg.RateLimit.Max = max(rate, 190)
	e.Sandbox, err = sandbox.New(scfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Sandbox)
	t.Cleanup(srv.Close)
	e.HubURL = srv.URL
	e.Config = filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(e.Config, fmt.Appendf(nil, bridgeYAML, srv.URL, rate), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUBSPOT_TOKEN", Token)
	e.Producer, err = stream.NewProducer(stream.ProducerConfig{Brokers: e.Brokers, Topic: Topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Producer.Close() })
	return e
}

// Context ends after d or with the test.
func Context(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Options run a bridge on the environment, logging to log (nil: the
// Running's buffer), with timings short enough for tests.
func (e *Env) Options(log io.Writer) bridge.Options {
	return bridge.Options{
		Brokers: e.Brokers, Topic: Topic, DLQ: DLQ, Group: "bridge", Partitions: Partitions,
		HTTP: "127.0.0.1:0", Config: e.Config, StateDir: e.StateDir, Workers: 8,
		Tick: 200 * time.Millisecond, Grace: 2 * time.Second, Log: log,
		Consumer: func(g *stream.GroupConfig) {
			g.CommitInterval = 100 * time.Millisecond
			g.HeartbeatInterval = 200 * time.Millisecond
			g.SessionTimeout = 6 * time.Second
			g.RebalanceTimeout = 2 * time.Second
		},
	}
}

// Running is a bridge started by a test.
type Running struct {
	Addr   string
	Cancel context.CancelFunc
	Done   chan error
	Log    *syncbuf.Buffer
}

// Start runs the bridge and waits until /readyz says ready.
func Start(t *testing.T, o bridge.Options) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Cancel: cancel, Done: make(chan error, 1), Log: &syncbuf.Buffer{}}
	if o.Log == nil {
		o.Log = r.Log
	}
	ready := make(chan string, 1)
	o.OnReady = func(addr string) { ready <- addr }
	go func() { r.Done <- bridge.Run(ctx, o) }()
	select {
	case r.Addr = <-ready:
	case err := <-r.Done:
		cancel()
		t.Fatalf("bridge exited before ready: %v\n%s", err, r.Log)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("bridge not started after 20s\n%s", r.Log)
	}
	WaitFor(t, 20*time.Second, "readyz", func() bool { return r.Get(t, "/readyz") == "ready\n" })
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Stop cancels the bridge (SIGTERM) and checks it exits cleanly in time.
func (r *Running) Stop(t *testing.T) {
	t.Helper()
	if r.Cancel == nil {
		return
	}
	r.Cancel()
	r.Cancel = nil
	select {
	case err := <-r.Done:
		if err != nil {
			t.Errorf("bridge exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("bridge did not stop within 15s")
	}
}

// Get returns the body of GET path, empty when the bridge does not answer.
func (r *Running) Get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + r.Addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Metric returns the value of one series of /metrics (0 when absent).
func (r *Running) Metric(t *testing.T, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(r.Get(t, "/metrics")))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			f, _ := strconv.ParseFloat(val, 64)
			return f
		}
	}
	return 0
}

// Answer is what GET /decisions returns, read back as the
// analytics.Decision rows it carries from either audit.
type Answer struct {
	Source    string               `json:"source"`
	Decisions []analytics.Decision `json:"decisions"`
}

// Decisions asks GET /decisions about contact.
func (r *Running) Decisions(t *testing.T, contact string) Answer {
	var a Answer
	if err := json.Unmarshal([]byte(r.Get(t, "/decisions?contact_id="+contact)), &a); err != nil {
		t.Fatalf("decisions of %s: %v", contact, err)
	}
	return a
}

// Outcomes are the decisions as outcome[:reason], as metrics and logs
// name them.
func (a Answer) Outcomes() []string {
	var out []string
	for _, d := range a.Decisions {
		o := d.Outcome
		if d.Reason != "" {
			o += ":" + d.Reason
		}
		out = append(out, o)
	}
	return out
}

// WaitFor polls ok until it holds, failing the test after d.
func WaitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Crossing builds a crossing message for a contact.
func Crossing(contact, model, threshold, owner, stage string) events.Crossing {
	return events.Crossing{
		CrossingID: events.CrossingID(contact, model, threshold, "ev-"+contact+"-"+threshold),
		ContactID:  contact, Model: model, Score: 70, Threshold: 60, ThresholdName: threshold,
		CrossedAt: time.Now().UTC(), EventID: "ev-" + contact + "-" + threshold, RuleVersion: "v1",
		Contact: map[string]any{"lifecycle_stage": stage, "owner_id": owner, "email": "contact-" + contact + "@example.net"},
	}
}

// Produce writes crossings to the crossings topic, keyed by contact.
func (e *Env) Produce(t *testing.T, cs ...events.Crossing) {
	t.Helper()
	msgs := make([]stream.Record, len(cs))
	for i, c := range cs {
		b, _ := json.Marshal(c)
		msgs[i] = stream.Message(c.ContactID, b)
	}
	if err := e.Producer.Write(Context(t, 10*time.Second), msgs...); err != nil {
		t.Fatal(err)
	}
}

// ProduceRaw writes any value to the crossings topic.
func (e *Env) ProduceRaw(t *testing.T, key string, value []byte) {
	t.Helper()
	if err := e.Producer.Write(Context(t, 10*time.Second), stream.Message(key, value)); err != nil {
		t.Fatal(err)
	}
}

// Enrollments counts the sandbox's stored sequence enrollments by contact.
func (e *Env) Enrollments() map[string]int {
	n := map[string]int{}
	for _, s := range e.Sandbox.State().Sequences {
		n[s.ContactID]++
	}
	return n
}

// WorkflowLog lists a contact's workflow actions as "ENROLLED:5001".
func (e *Env) WorkflowLog(contact string) []string {
	var out []string
	for _, w := range e.Sandbox.State().Workflows {
		if w.ContactID == contact {
			out = append(out, fmt.Sprintf("%s:%d", w.Action, w.WorkflowID))
		}
	}
	return out
}

// DeadLetters reads the whole DLQ topic.
func (e *Env) DeadLetters(t *testing.T) []stream.Record {
	var out []stream.Record
	_, err := stream.RestorePartition(Context(t, 10*time.Second), e.Brokers, DLQ, 0, func(m stream.Record) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
