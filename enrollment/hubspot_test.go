package enrollment

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/analytics"
	bolt "go.etcd.io/bbolt"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

const sandboxYAML = `
token: t0ken
contacts_auto: true
contact_email_template: "contact-{id}@example.net"
senders:
  - {owner_id: "u-1", user_id: "101", email: "ana@example.com", daily_send_cap: 500}
sequences:
  - id: "9001"
    name: "Sales"
    user_id: "101"
    steps:
      - {action: EMAIL}
      - {action: TASK, task_type: CALL, delay: 4h}
      - {action: EMAIL, delay_days: 2}
workflows:
  - {id: 501, name: "Pricing nurture"}
  - {id: 509, name: "Newsletter"}
`

type sandboxRig struct {
	box    *sandbox.Sandbox
	client *hubspot.Client
	bridge *Bridge
}

func newSandboxRig(t *testing.T) *sandboxRig {
	t.Helper()
	scfg, err := sandbox.ParseConfig([]byte(sandboxYAML))
	if err != nil {
		t.Fatal(err)
	}
	box, err := sandbox.New(scfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(box)
	t.Cleanup(srv.Close)
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: srv.URL, Token: "t0ken",
		RequestsPerInterval: 1000, Interval: time.Second, MaxAttempts: 1, AttemptTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBridge(testCfg(t), openStore(t, t.TempDir()), HubSpotSink{Client: client}, nil,
		func() time.Time { return t0 }, Retry{Sleep: noSleep})
	return &sandboxRig{box: box, client: client, bridge: b}
}

func sandboxCrossing(id string, mods ...func(*events.Crossing)) events.Crossing {
	return crossing(id, append([]func(*events.Crossing){func(c *events.Crossing) {
		c.ContactID = "7"
		c.Contact["email"] = "contact-7@example.net"
	}}, mods...)...)
}

func (r *sandboxRig) sequenceEnrollments(contact string) int {
	n := 0
	for _, e := range r.box.State().Sequences {
		if e.ContactID == contact {
			n++
		}
	}
	return n
}

func (r *sandboxRig) workflowLog() string {
	var out []string
	for _, e := range r.box.State().Workflows {
		out = append(out, e.Action)
	}
	return strings.Join(out, ",")
}

func TestSandboxNurtureThenSales(t *testing.T) {
	r := newSandboxRig(t)
	if res := handle(t, r.bridge, sandboxCrossing("n", nurture)); res.Decision.Outcome != "enrolled" {
		t.Fatalf("nurture: %+v", res.Decision)
	}
	res := handle(t, r.bridge, sandboxCrossing("s"))
	if res.Decision.Outcome != "enrolled" || strings.Join(res.Decision.Unenrolled, ",") != "501" || len(res.Decision.UnenrollFailed) != 0 {
		t.Fatalf("sales: %+v", res.Decision)
	}
	if got := r.workflowLog(); got != "ENROLLED,UNENROLLED" {
		t.Errorf("workflow log %s", got)
	}
	if n := r.sequenceEnrollments("7"); n != 1 {
		t.Errorf("%d sequence enrollments", n)
	}
}

func TestSandboxSalesThenLateNurture(t *testing.T) {
	r := newSandboxRig(t)
	handle(t, r.bridge, sandboxCrossing("s"))
	res := handle(t, r.bridge, sandboxCrossing("n", nurture))
	if res.Decision.Outcome != "excluded:conflicting_sequence" {
		t.Fatalf("late nurture: %+v", res.Decision)
	}
	if got := r.workflowLog(); got != "" {
		t.Errorf("workflow touched: %s", got)
	}
}

// The connection drops after HubSpot stored the enrollment: exactly one
// enrollment, recorded as enrolled, whichever side checks the status.
func TestSandboxAmbiguousEnrollment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
	}{
		{"dropped", sandbox.Faults{DropAfterEnrollNext: 1}},
		{"502 after storing", sandbox.Faults{ErrorAfterEnrollNext: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSandboxRig(t)
			if err := r.box.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			res := handle(t, r.bridge, sandboxCrossing("s"))
			if res.Decision.Outcome != "enrolled" || res.Decision.EnrollmentID == "" || res.Decision.ConfirmedBy != ConfirmedByStatus {
				t.Fatalf("%+v", res.Decision)
			}
			if n := r.sequenceEnrollments("7"); n != 1 {
				t.Errorf("%d enrollments at HubSpot", n)
			}
		})
	}
}

func TestSandboxRefusals(t *testing.T) {
	t.Run("enrolled by a rep beforehand", func(t *testing.T) {
		r := newSandboxRig(t)
		if _, err := r.client.Enroll(context.Background(), hubspot.EnrollRequest{UserID: "101", ContactID: "7", SequenceID: "9001", SenderEmail: "ana@example.com"}); err != nil {
			t.Fatal(err)
		}
		res := handle(t, r.bridge, sandboxCrossing("s"))
		if res.Decision.Outcome != "already_enrolled:status" || res.Decision.InSequence != "9001" {
			t.Fatalf("%+v", res.Decision)
		}
	})
	t.Run("unknown sequence", func(t *testing.T) {
		r := newSandboxRig(t)
		r.bridge.Config.Routes[3].SequenceID = "4040"
		res := handle(t, r.bridge, sandboxCrossing("f", func(c *events.Crossing) { c.Model = "fit"; c.Score = 90 }))
		if res.Decision.Kind != KindFailed {
			t.Fatalf("%+v", res.Decision)
		}
	})
	t.Run("workflow outage retried, nothing lost", func(t *testing.T) {
		r := newSandboxRig(t)
		if err := r.box.SetFaults(sandbox.Faults{FailNext: 2}); err != nil {
			t.Fatal(err)
		}
		res := handle(t, r.bridge, sandboxCrossing("n", nurture, func(c *events.Crossing) { c.ContactID = "8"; c.Contact["email"] = "contact-8@example.net" }))
		if res.Decision.Outcome != "enrolled" {
			t.Fatalf("%+v", res.Decision)
		}
	})
}

// Through the HubSpot sink, with the client recording calls before they
// are sent (as the bridge does with ClickHouse), the enrollment request
// reaches HubSpot one commit after the pipeline passed its last read:
// the intent and the call's start record share one fsynced transaction,
// both on disk when HubSpot sees the request. The answer then completes
// the row. An intent the store refuses sends nothing.
func TestIntentAndCallStartShareOneCommit(t *testing.T) {
	scfg, err := sandbox.ParseConfig([]byte(sandboxYAML))
	if err != nil {
		t.Fatal(err)
	}
	box, err := sandbox.New(scfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	type seen struct {
		txid    int
		intent  bool
		started []analytics.APICall
	}
	var (
		mu       sync.Mutex
		arrivals = map[string]seen{} // contact -> the store when its enrollment arrived
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			ContactID string `json:"contactId"`
		}
		if r.Method == http.MethodPost && hubspot.IsEnrollPath(r.URL.Path) && json.Unmarshal(body, &req) == nil {
			var s seen
			err := st.db.View(func(tx *bolt.Tx) error {
				s.txid = tx.ID()
				s.intent = tx.Bucket(bucketIntents).Get([]byte("x-"+req.ContactID)) != nil
				return tx.Bucket(bucketStarted).ForEach(func(_, v []byte) error {
					var row analytics.APICall
					err := json.Unmarshal(v, &row)
					s.started = append(s.started, row)
					return err
				})
			})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			arrivals[req.ContactID] = s
			mu.Unlock()
		}
		box.ServeHTTP(w, r)
	}))
	defer front.Close()
	metrics := NewServiceMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	record := func(store func(analytics.APICall) error) func(analytics.APICall) {
		return func(row analytics.APICall) {
			if err := store(row); err != nil {
				t.Error(err)
			}
		}
	}
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: front.URL, Token: "t0ken",
		RequestsPerInterval: 1000, Interval: time.Second, MaxAttempts: 1, AttemptTimeout: 2 * time.Second,
		Audit: metrics.AuditHook(record(st.AppendAPICall)), AuditStart: metrics.AuditStartHook(record(st.StartAPICall))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testCfg(t, func(c *Config) { delete(c.conflicts.bySequence, "9001") }) // no workflow calls after
	b := NewBridge(cfg, st, metrics.MeterSink(HubSpotSink{Client: client}), nil, func() time.Time { return t0 }, Retry{Sleep: noSleep})
	lead := func(contact string) events.Crossing {
		return crossing("x-"+contact, func(c *events.Crossing) {
			c.ContactID = contact
			c.Contact["email"] = "contact-" + contact + "@example.net"
		})
	}
	// The first crossing fetches the sequence's steps (cached after).
	if res := handle(t, b, lead("8")); res.Decision.Outcome != "enrolled" {
		t.Fatalf("warm-up: %+v", res.Decision)
	}
	var before int
	st.db.View(func(tx *bolt.Tx) error { before = tx.ID(); return nil })
	res := handle(t, b, lead("7"))
	if res.Decision.Outcome != "enrolled" || res.Decision.ConfirmedBy != ConfirmedByResponse {
		t.Fatalf("%+v", res.Decision)
	}
	var after int
	st.db.View(func(tx *bolt.Tx) error { after = tx.ID(); return nil })
	got := arrivals["7"]
	if got.txid-before != 1 || !got.intent || len(got.started) != 1 {
		t.Fatalf("when the enrollment arrived: %d commit(s) after the pipeline's reads, intent stored %v, %d started call(s); want 1, true, 1",
			got.txid-before, got.intent, len(got.started))
	}
	if s := got.started[0]; s.Method != http.MethodPost || s.ContactID != "7" || s.CrossingID != "x-7" || s.Status != 0 ||
		!strings.Contains(s.RequestBody, `"contactId":"7"`) || strings.Contains(s.RequestBody, "t0ken") {
		t.Errorf("started row %+v", s)
	}
	// The answer's row, then the decision: three commits for the enrollment.
	if after-before != 3 {
		t.Errorf("%d commits for one enrollment, want 3 (intent with the call's start, the answer, the decision)", after-before)
	}
	rows, err := st.CallOutbox(100)
	if err != nil {
		t.Fatal(err)
	}
	var answered []analytics.APICall
	for _, e := range rows {
		if e.Row.ContactID == "7" {
			answered = append(answered, e.Row)
		}
	}
	if len(answered) != 1 || answered[0].CallID != got.started[0].CallID || answered[0].Status != 200 {
		t.Errorf("rows of contact 7 %+v; want its started call answered 200", answered)
	}
	if n, err := st.InterruptAPICalls(); err != nil || n != 0 {
		t.Errorf("%d calls left started (%v)", n, err)
	}

	// An intent bbolt refuses (a key over its 32 KiB limit): the crossing
	// is not decided and HubSpot gets nothing.
	sent := box.Stats().Requests
	huge := lead("9")
	huge.CrossingID = strings.Repeat("x", 40<<10)
	if _, err := b.Handle(context.Background(), huge); err == nil || !strings.Contains(err.Error(), "key too large") {
		t.Errorf("Handle with an intent the store refuses: %v", err)
	}
	if n := box.Stats().Requests; n != sent {
		t.Errorf("%d request(s) reached HubSpot without their intent", n-sent)
	}
}
