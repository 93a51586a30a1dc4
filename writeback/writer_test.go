package writeback

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

const token = "pat-na1-writeback-test-token"

func sandboxYAML(max int) string {
	return fmt.Sprintf(`token: %s
rate_limit: {max: %d, interval: 1s, daily: 1000000}
contacts_auto: true
companies_auto: true
contact_email_template: "c{id}@example.net"
senders:
  - {user_id: "101", owner_id: "u-1", email: "ana@example.com"}
sequences:
  - {id: "9001", name: "Demo", user_id: "101", steps: [{action: EMAIL}]}
`, token, max)
}

type env struct {
	brokers []string
	sb      *sandbox.Sandbox
	url     string
	msgs    []leadscores.Message // as produced
}

func newEnv(t *testing.T, rateMax int) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{brokers: c.ListenAddrs()}
	if err := stream.EnsureTopics(ctxFor(t, 30*time.Second), e.brokers, stream.Topic{Name: "lead-scores", Partitions: 4, Compacted: true},
		stream.Topic{Name: "company-scores", Partitions: 4, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	cfg, err := sandbox.ParseConfig([]byte(sandboxYAML(rateMax)))
	if err != nil {
		t.Fatal(err)
	}
	e.sb, err = sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.sb)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// produce writes rounds of messages for contacts 5000.. : round r gives
// contact i the score i%50 + r*3, past "sales" from round 1 on.
func (e *env) produce(t *testing.T, contacts, rounds int) {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: "lead-scores"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var out []stream.Record
	for r := range rounds {
		for i := range contacts {
			m := leadscores.Message{ContactID: fmt.Sprint(5000 + i), UpdatedAt: t0.Add(time.Duration(r) * time.Minute), RuleVersion: "v1",
				Models: map[string]leadscores.Model{
					"engagement": {Score: float64(i%50) + float64(r)*3.5, Top: []leadscores.Group{{Group: "call_started", Points: 30}, {Group: "email_opened", Points: float64(r)}}},
					"intent":     {Score: 1, Top: []leadscores.Group{}},
				}}
			if r > 0 {
				sales, at := "sales", t0.Add(time.Minute)
				mm := m.Models["engagement"]
				mm.Threshold, mm.CrossedAt = &sales, &at
				m.Models["engagement"] = mm
			}
			e.msgs = append(e.msgs, m)
			out = append(out, stream.Message(m.ContactID, leadscores.Marshal(&m)))
		}
	}
	if err := p.Write(ctxFor(t, 30*time.Second), out...); err != nil {
		t.Fatal(err)
	}
}

func (e *env) client(t *testing.T, perSecond int) *hubspot.Client {
	c, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: e.url, Token: token, RequestsPerInterval: perSecond, Interval: time.Second,
		MaxAttempts: 3, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxRetryAfter: 5 * time.Second,
		AttemptTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func config(t *testing.T, yamlish func(*Config)) *Config {
	zero := 0.0
	c := &Config{FlushInterval: "1s", MinDelta: &zero, Models: []string{"engagement"}}
	if yamlish != nil {
		yamlish(c)
	}
	if ps := c.Check(); len(ps) > 0 {
		t.Fatalf("config: %v", ps)
	}
	c.flush = 100 * time.Millisecond // below the dialect's smallest, for speed
	return c
}

func testGroup(g *stream.GroupConfig) {
	g.SessionTimeout, g.HeartbeatInterval, g.RebalanceTimeout = 6*time.Second, 200*time.Millisecond, 2*time.Second
	g.CommitInterval, g.RevokeTimeout = 50*time.Millisecond, 1500*time.Millisecond
}

// committedAll: the group committed every partition of lead-scores to its end.
func (e *env) committedAll(ctx context.Context, group string) (bool, error) {
	return e.committedTo(ctx, group, "lead-scores")
}

// committedTo: the group committed every partition of topic to its end.
func (e *env) committedTo(ctx context.Context, group, topic string) (bool, error) {
	admin := stream.NewAdmin(e.brokers)
	defer admin.Close()
	return admin.CaughtUp(ctx, group, topic, 4)
}

// runUntilCommitted runs a writer until its group committed everything.
func (e *env) runUntilCommitted(t *testing.T, w *Writer, group string) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxFor(t, 2*time.Minute))
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, e.brokers) }()
	for {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("write-back stopped: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		ok, err := e.committedTo(ctx, group, w.k.topic)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("write-back stopped with %v", err)
			}
			return
		}
	}
}

// checkProperties: every contact's properties in the sandbox are those
// of its latest message, except deleted ones, which hold nothing.
func (e *env) checkProperties(t *testing.T, c *Config, deleted map[string]bool) {
	t.Helper()
	latest := map[string]leadscores.Message{}
	for _, m := range e.msgs {
		latest[m.ContactID] = m
	}
	for id, m := range latest {
		got, ok := e.sb.ContactProperties(id)
		if deleted[id] {
			if ok {
				t.Errorf("deleted contact %s has properties %v", id, got)
			}
			continue
		}
		want := c.propertiesOf(&m)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("contact %s: %s = %q, want %q", id, k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("contact %s: %d properties %v, want %v", id, len(got), got, want)
		}
	}
}

func openStore(t *testing.T) *analytics.Store {
	s, err := analytics.Open(ctxFor(t, 30*time.Second), analyticstest.DSN(t, "sb_test_wb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A backlog of 3 rounds for 250 contacts under HubSpot's 429s: the
// properties end equal to each contact's latest message (min_delta 0),
// the calls are full batches (latest wins), a deleted contact is recorded
// as failed in the writeback table without blocking the rest, and the
// group commits to the end.
func TestWriteback(t *testing.T) {
	store := openStore(t)
	e := newEnv(t, 2) // the sandbox answers 429 beyond 2 calls a second
	const contacts = 250
	e.produce(t, contacts, 3)
	e.sb.DeleteContact("5007")
	cfg := config(t, nil)
	w := New(Options{Config: cfg, CRM: e.client(t, 20), Recorder: store, Log: zerolog.Nop(), Consumer: testGroup})
	e.runUntilCommitted(t, w, cfg.Group)
	e.checkProperties(t, cfg, map[string]bool{"5007": true})
	latest := map[string]leadscores.Message{}
	for _, m := range e.msgs {
		latest[m.ContactID] = m
	}
	// Verify reads the same through HubSpot's API (GET contact), for a
	// few contacts (the sandbox allows 2 calls a second here).
	var last []leadscores.Message
	for _, id := range []string{"5000", "5007", "5101", "5249"} {
		last = append(last, latest[id])
	}
	check, err := Verify(context.Background(), cfg, e.client(t, 1000), last)
	if err != nil || len(check.Problems) > 0 || check.Differ != 0 || len(check.Missing) != 1 || check.Missing[0] != "5007" || check.Checked != 4 {
		t.Fatalf("Verify: %+v, %v", check, err)
	}
	// Scores HubSpot does not hold: a line per property, a record counted
	// once however many of its properties differ.
	moved := slices.Clone(last)
	for _, i := range []int{0, 2} {
		models := map[string]leadscores.Model{}
		for name, m := range moved[i].Models {
			m.Score += 1000
			models[name] = m
		}
		moved[i].Models = models
	}
	check, err = Verify(context.Background(), cfg, e.client(t, 1000), moved)
	if err != nil || check.Differ != 2 || len(check.Problems) < 2 || !strings.HasPrefix(check.Problems[0], "contact 5000: ") ||
		!strings.Contains(check.Problems[0], "in HubSpot, the scores say") || check.String() != "4 contacts checked: 2 with properties that differ, 1 missing in HubSpot (5007)" {
		t.Fatalf("Verify of moved scores: %+v (%s), %v", check, check, err)
	}

	calls := e.sb.BatchUpdates()
	if calls > 2*((contacts+99)/100) {
		t.Errorf("%d batch calls for %d contacts: batches are not full", calls, contacts)
	}
	if st := e.sb.Stats(); st.RateLimited == 0 {
		t.Errorf("no 429 was answered: the test did not exercise them (%+v)", st)
	}
	rows, err := store.Writeback(context.Background(), "5007")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[len(rows)-1].Result != "failed" || !strings.Contains(rows[len(rows)-1].Error, "OBJECT_NOT_FOUND") {
		t.Fatalf("deleted contact's rows: %+v", rows)
	}
	ok, err := store.Writeback(context.Background(), "5008")
	if err != nil || len(ok) == 0 || ok[len(ok)-1].Result != "ok" || !strings.Contains(ok[len(ok)-1].Properties, `"scorebridge_engagement_threshold":"sales"`) {
		t.Fatalf("contact 5008's rows: %+v, %v", ok, err)
	}
	t.Logf("%d contacts, 3 rounds: %d batch calls, sandbox %+v", contacts, calls, e.sb.Stats())
}

// While HubSpot fails every call, nothing is committed and the write-back
// keeps going (a property it cannot make yet is tried again); a writer started
// after the failing one (a crash stands in for the same: no offset moved
// past an unwritten contact) writes everything.
func TestWritebackCommitsOnlyWritten(t *testing.T) {
	e := newEnv(t, 1000)
	e.produce(t, 120, 2)
	// Every model: the intent model's properties are made at the first
	// flush, which fails too, and must not stop the write-back.
	cfg := config(t, func(c *Config) { c.Models = nil })
	client := e.client(t, 200)
	w1 := New(Options{Config: cfg, CRM: client, Log: zerolog.Nop(), Consumer: testGroup})
	if err := w1.EnsureProperties(context.Background(), []string{"engagement"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.PatchFaults(sandbox.FaultsPatch{ErrorRate: ptr(1.0)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	if err := w1.Run(ctx, e.brokers); err != nil { // ends with ctx; its revoke cannot flush
		t.Fatalf("a failing HubSpot stopped the write-back: %v", err)
	}
	cancel()
	if ok, err := e.committedAll(context.Background(), cfg.Group); err != nil || ok {
		t.Fatalf("committed to the end while HubSpot failed every write (%v)", err)
	}
	if n := e.sb.BatchUpdates(); n != 0 {
		t.Fatalf("%d batch updates applied while failing", n)
	}
	if _, err := e.sb.PatchFaults(sandbox.FaultsPatch{ErrorRate: ptr(0.0)}); err != nil {
		t.Fatal(err)
	}
	w2 := New(Options{Config: cfg, CRM: e.client(t, 200), Log: zerolog.Nop(), Consumer: testGroup})
	e.runUntilCommitted(t, w2, cfg.Group)
	e.checkProperties(t, cfg, nil)
}

func ptr[T any](v T) *T { return &v }

// A property that exists with another type stops the write-back at
// start, naming it.
func TestWritebackPropertyTypeMismatch(t *testing.T) {
	e := newEnv(t, 1000)
	c := e.client(t, 200)
	ctx := context.Background()
	if _, err := c.CreateContactPropertyGroup(ctx, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContactProperty(ctx, hubspot.Property{Name: "scorebridge_engagement_score", Label: "x", Type: "string", FieldType: "text", GroupName: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	w := New(Options{Config: config(t, nil), CRM: c, Log: zerolog.Nop()})
	err := w.EnsureProperties(ctx, []string{"engagement"})
	if err == nil || !strings.Contains(err.Error(), "scorebridge_engagement_score is a string property in HubSpot, the write-back writes a number") {
		t.Fatalf("EnsureProperties = %v", err)
	}
	// The other properties were created meanwhile, with the right types.
	if p, err := c.GetContactProperty(ctx, "scorebridge_engagement_crossed_at"); err != nil || p.Type != "datetime" {
		t.Fatalf("crossed_at: %+v, %v", p, err)
	}
}
