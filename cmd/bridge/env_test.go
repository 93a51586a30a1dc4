package main

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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

const (
	testTopic  = "crossings"
	testDLQ    = "crossings-dlq"
	testToken  = "sandbox-token-change-me"
	partitions = 3
)

// env is a broker, a HubSpot sandbox and a bridge configuration, all
// over loopback.
type env struct {
	brokers  []string
	sandbox  *hubspot.Sandbox
	hubURL   string
	config   string
	stateDir string
	producer *stream.Producer
}

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

func newEnv(t *testing.T, rate int) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{brokers: c.ListenAddrs(), stateDir: t.TempDir()}
	ctx := ctxFor(t, 30*time.Second)
	if err := stream.EnsureTopics(ctx, e.brokers,
		stream.Topic{Name: testTopic, Partitions: partitions}, stream.Topic{Name: testDLQ, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	scfg, err := hubspot.LoadSandboxConfig("../../testdata/sandbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scfg.RateLimit.Max = max(rate, 190)
	e.sandbox, err = hubspot.NewSandbox(scfg, hubspot.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.sandbox)
	t.Cleanup(srv.Close)
	e.hubURL = srv.URL
	e.config = filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(e.config, fmt.Appendf(nil, bridgeYAML, srv.URL, rate), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUBSPOT_TOKEN", testToken)
	e.producer, err = stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: testTopic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.producer.Close() })
	return e
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) options(log io.Writer) options {
	return options{
		Brokers: e.brokers, Topic: testTopic, DLQ: testDLQ, Group: "bridge", Partitions: partitions,
		HTTP: "127.0.0.1:0", Config: e.config, StateDir: e.stateDir, Workers: 8,
		Tick: 200 * time.Millisecond, Grace: 2 * time.Second, Log: log,
		Consumer: func(g *stream.GroupConfig) {
			g.CommitInterval = 100 * time.Millisecond
			g.HeartbeatInterval = 200 * time.Millisecond
			g.SessionTimeout = 6 * time.Second
			g.RebalanceTimeout = 2 * time.Second
		},
	}
}

// running is a bridge started by a test.
type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	log    *syncBuffer
}

// start runs the bridge and waits until /readyz says ready.
func start(t *testing.T, o options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), log: &syncBuffer{}}
	if o.Log == nil {
		o.Log = r.log
	}
	ready := make(chan string, 1)
	o.OnReady = func(addr string) { ready <- addr }
	go func() { r.done <- serve(ctx, o) }()
	select {
	case r.addr = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("bridge exited before ready: %v\n%s", err, r.log)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("bridge not started after 20s\n%s", r.log)
	}
	waitFor(t, 20*time.Second, "readyz", func() bool { return r.get(t, "/readyz") == "ready\n" })
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the bridge (SIGTERM) and checks it exits cleanly in time.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("bridge exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("bridge did not stop within 15s")
	}
}

func (r *running) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric returns the value of one series of /metrics (0 when absent).
func (r *running) metric(t *testing.T, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(r.get(t, "/metrics")))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			f, _ := strconv.ParseFloat(val, 64)
			return f
		}
	}
	return 0
}

// answer is what GET /decisions returns, read back as the
// analytics.Decision rows it carries from either audit.
type answer struct {
	Source    string               `json:"source"`
	Decisions []analytics.Decision `json:"decisions"`
}

func (r *running) decisions(t *testing.T, contact string) answer {
	var a answer
	if err := json.Unmarshal([]byte(r.get(t, "/decisions?contact_id="+contact)), &a); err != nil {
		t.Fatalf("decisions of %s: %v", contact, err)
	}
	return a
}

// outcomes are the decisions as outcome[:reason], as metrics and logs
// name them.
func (a answer) outcomes() []string {
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

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crossing builds a crossing message for a contact.
func crossing(contact, model, threshold, owner, stage string) events.Crossing {
	return events.Crossing{
		CrossingID: events.CrossingID(contact, model, threshold, "ev-"+contact+"-"+threshold),
		ContactID:  contact, Model: model, Score: 70, Threshold: 60, ThresholdName: threshold,
		CrossedAt: time.Now().UTC(), EventID: "ev-" + contact + "-" + threshold, RuleVersion: "v1",
		Contact: map[string]any{"lifecycle_stage": stage, "owner_id": owner, "email": "contact-" + contact + "@example.net"},
	}
}

func (e *env) produce(t *testing.T, cs ...events.Crossing) {
	t.Helper()
	msgs := make([]kafka.Message, len(cs))
	for i, c := range cs {
		b, _ := json.Marshal(c)
		msgs[i] = stream.Message(c.ContactID, b)
	}
	if err := e.producer.Write(ctxFor(t, 10*time.Second), msgs...); err != nil {
		t.Fatal(err)
	}
}

func (e *env) produceRaw(t *testing.T, key string, value []byte) {
	t.Helper()
	if err := e.producer.Write(ctxFor(t, 10*time.Second), stream.Message(key, value)); err != nil {
		t.Fatal(err)
	}
}

// enrollments counts the sandbox's stored sequence enrollments by contact.
func (e *env) enrollments() map[string]int {
	n := map[string]int{}
	for _, s := range e.sandbox.State().Sequences {
		n[s.ContactID]++
	}
	return n
}

// workflowLog lists a contact's workflow actions as "ENROLLED:5001".
func (e *env) workflowLog(contact string) []string {
	var out []string
	for _, w := range e.sandbox.State().Workflows {
		if w.ContactID == contact {
			out = append(out, fmt.Sprintf("%s:%d", w.Action, w.WorkflowID))
		}
	}
	return out
}

// deadLetters reads the whole DLQ topic.
func (e *env) deadLetters(t *testing.T) []kafka.Message {
	var out []kafka.Message
	_, err := stream.RestorePartition(ctxFor(t, 10*time.Second), e.brokers, testDLQ, 0, func(m kafka.Message) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
