package enrollment

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

// auditedRig is a bridge over the sandbox (httptest) wired as the service
// wires it: the client's audit hook feeds api_calls rows, the sink is
// metered. wrap may put faults in front of the sandbox.
type auditedRig struct {
	box    *sandbox.Sandbox
	client *hubspot.Client
	bridge *Bridge
	clk    *clock

	mu   sync.Mutex
	rows []analytics.APICall
}

func newAuditedRig(t *testing.T, now time.Time, wrap func(http.Handler) http.Handler) *auditedRig {
	t.Helper()
	r := &auditedRig{clk: &clock{now: now}}
	scfg, err := sandbox.ParseConfig([]byte(sandboxYAML))
	if err != nil {
		t.Fatal(err)
	}
	r.box, err = sandbox.New(scfg, sandbox.Options{Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = r.box
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	metrics := NewServiceMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	r.client, err = hubspot.NewClient(hubspot.ClientConfig{BaseURL: srv.URL, Token: "t0ken",
		RequestsPerInterval: 1000, Interval: time.Second, MaxAttempts: 3,
		InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second,
		Audit: metrics.AuditHook(func(row analytics.APICall) {
			r.mu.Lock()
			r.rows = append(r.rows, row)
			r.mu.Unlock()
		})})
	if err != nil {
		t.Fatal(err)
	}
	r.bridge = NewBridge(testCfg(t), openStore(t, t.TempDir()), metrics.MeterSink(HubSpotSink{Client: r.client}), nil,
		r.clk.Now, Retry{Sleep: noSleep, MaxAttempts: 2})
	return r
}

// takeRows returns the api_calls rows audited so far and forgets them.
func (r *auditedRig) takeRows() []analytics.APICall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.rows
	r.rows = nil
	return out
}

// enrolledContacts lists the contacts the sandbox enrolled for user 101.
func (r *auditedRig) enrolledContacts() []string {
	var out []string
	for _, e := range r.box.State().Sequences {
		if e.UserID == "101" {
			out = append(out, e.ContactID)
		}
	}
	slices.Sort(out)
	return out
}

// sandboxContact puts a crossing on sandbox contact id (owner u-1).
func sandboxContact(id string) func(*events.Crossing) {
	return func(c *events.Crossing) {
		c.ContactID = id
		c.Contact["email"] = "contact-" + id + "@example.net"
	}
}

// A workflow outage while a contact enters a sequence must not hold up the
// same rep's other enrollments: the exits from conflicting workflows are
// made after the sender's lock is released, and what fails is queued.
func TestWorkflowOutageDoesNotDelaySameRep(t *testing.T) {
	var (
		isDown atomic.Bool
		down   = make(chan struct{}, 100)
		end    = make(chan struct{})
	)
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if isDown.Load() && strings.HasPrefix(req.URL.Path, "/automation/v2/workflows/") && req.Method != http.MethodPost {
				// A slow failure: the call hangs until the outage ends,
				// as a client retrying through it would.
				down <- struct{}{}
				<-end
				http.Error(w, `{"status":"error","message":"unavailable"}`, http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	r := newAuditedRig(t, t0, wrap)
	b := r.bridge
	if res := handle(t, b, crossing("n11", nurture, sandboxContact("11"))); res.Decision.Outcome != "enrolled" {
		t.Fatalf("nurture: %+v", res.Decision)
	}

	isDown.Store(true)
	decideAsync := func(c events.Crossing) chan Result {
		ch := make(chan Result, 1)
		go func() {
			res, err := b.Handle(context.Background(), c)
			if err != nil {
				res.Decision.Outcome = err.Error()
			}
			ch <- res
		}()
		return ch
	}
	first := decideAsync(crossing("s11", sandboxContact("11")))
	<-down // the first sequence enrollment now waits for the workflow API

	// The same rep's next crossing is enrolled while the first's workflow
	// call still hangs. (Its own conflict check then meets the outage too,
	// on its contact's worker only.)
	second := decideAsync(crossing("s12", sandboxContact("12")))
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(r.enrolledContacts(), []string{"11", "12"}) {
		if time.Now().After(deadline) {
			got := r.enrolledContacts()
			close(end)
			<-first
			<-second
			t.Fatalf("the same rep's second crossing waited for the first's workflow calls: enrolled %v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(end)
	if res := <-second; res.Decision.Outcome != "enrolled" {
		t.Errorf("second: %+v", res.Decision)
	}
	res := <-first
	isDown.Store(false)
	if res.Decision.Outcome != "enrolled" || strings.Join(res.Decision.UnenrollPending, ",") != "501" ||
		strings.Join(res.Decision.UnenrollFailed, ",") != "501" {
		t.Fatalf("first: %+v", res.Decision)
	}
	// The recorded decision says the exit is pending; nothing is lost.
	if d, ok, _ := b.Store.Processed("s11"); !ok || strings.Join(d.UnenrollPending, ",") != "501" {
		t.Errorf("recorded %+v", d)
	}
	r.takeRows()
	ds, err := b.RetryUnenrolls(context.Background())
	if err != nil || len(ds) != 1 || ds[0].Outcome != "workflow_unenrolled" || ds[0].CrossingID != "s11" {
		t.Fatalf("retry: %v %+v", err, ds)
	}
	var log []string
	for _, e := range r.box.State().Workflows {
		if e.ContactID == "11" {
			log = append(log, e.Action)
		}
	}
	if !slices.Equal(log, []string{"ENROLLED", "UNENROLLED"}) {
		t.Errorf("workflow log of 11: %v", log)
	}
	// The retried exit is audited under the sequence's crossing.
	deletes := 0
	for _, row := range r.takeRows() {
		want := "s11"
		if strings.HasSuffix(row.Path, "/12") || strings.Contains(row.Path, "contact-12@") {
			want = "s12" // 12's queued check: it is not in the workflow
		}
		if row.CrossingID != want {
			t.Errorf("retried exit audited as %q: %s %s", row.CrossingID, row.Method, row.Path)
		}
		if row.Method == http.MethodDelete {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("%d workflow exits retried, want 1 (11's)", deletes)
	}
}

// Without an outage the exit is made at once and recorded as its own
// workflow_unenrolled decision after the enrolled one.
func TestLeaveRecordedAfterEnrollment(t *testing.T) {
	sink := newFakeSink()
	rec := &memRecorder{}
	b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, rec)
	handle(t, b, crossing("n", nurture))
	r := handle(t, b, crossing("s", func(c *events.Crossing) { c.ContactID = "k-n"; c.Contact["email"] = "n@prospect.com" }))
	if strings.Join(r.Decision.Unenrolled, ",") != "501" {
		t.Fatalf("%+v", r.Decision)
	}
	if _, err := b.FlushOutbox(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rec.got {
		got = append(got, d.CrossingID+" "+d.Outcome+" "+strings.Join(d.UnenrollPending, ","))
	}
	want := []string{"n enrolled ", "s enrolled 501", "s workflow_unenrolled "}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if ps, _ := b.Store.PendingUnenrolls(t0.Add(time.Hour)); len(ps) != 0 {
		t.Errorf("still queued: %+v", ps)
	}
	// A contact not in the conflicting workflow: nothing left, nothing
	// recorded, nothing queued.
	r = handle(t, b, crossing("x", func(c *events.Crossing) { c.Contact["owner_id"] = "u-2" }))
	if r.Decision.Outcome != "enrolled" || len(r.Decision.Unenrolled)+len(r.Decision.UnenrollFailed) != 0 {
		t.Errorf("%+v", r.Decision)
	}
	if ps, _ := b.Store.PendingUnenrolls(t0.Add(time.Hour)); len(ps) != 0 {
		t.Errorf("still queued: %+v", ps)
	}
}

// An enrollment whose outcome was unknown (intent left, HubSpot did
// enroll) counts against the rep's daily_enrollments as soon as the
// crossing comes back, even at night: it is not held by Hours or Quota
// while the contact is in fact enrolled.
func TestAmbiguousEnrollmentCountsAgainstQuota(t *testing.T) {
	r := newAuditedRig(t, night, nil)
	b := r.bridge
	a := crossing("a21", sandboxContact("21"))
	// An earlier run wrote its intent, HubSpot accepted, the run died.
	if err := b.Store.PutIntent(Intent{Crossing: a, Target: Target{TargetSequence, "9001"}, OwnerID: "u-1", At: night.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.Enroll(context.Background(), hubspot.EnrollRequest{UserID: "101", ContactID: "21", SequenceID: "9001", SenderEmail: "ana@example.com"}); err != nil {
		t.Fatal(err)
	}
	ra := handle(t, b, a)
	if ra.Decision.Outcome != "enrolled" || !strings.Contains(ra.Decision.Detail, "resumed") {
		t.Errorf("A at night: %+v", ra.Decision)
	}
	r.clk.Set(morning)
	rb := handle(t, b, crossing("b22", sandboxContact("22")))
	rc := handle(t, b, crossing("c23", sandboxContact("23")))
	if _, err := b.ReleaseHeld(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.enrolledContacts(); !slices.Equal(got, []string{"21", "22"}) {
		t.Errorf("rep's enrollments at HubSpot: %v, want [21 22] (daily_enrollments 2)", got)
	}
	if rb.Decision.Outcome != "enrolled" || rc.Decision.Outcome != "held:quota" {
		t.Errorf("B %s, C %s", rb.Decision.Outcome, rc.Decision.Outcome)
	}
	if u, _ := b.Store.SenderUsage("u-1"); len(u.Enrollments) != 2 {
		t.Errorf("ledger counts %d enrollments", len(u.Enrollments))
	}
}

// The Resume stage asks the status once; the Send stage does not ask again.
func TestResumeAsksStatusOnce(t *testing.T) {
	sink := newFakeSink()
	b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, nil)
	c := crossing("a")
	if err := b.Store.PutIntent(Intent{Crossing: c, Target: Target{TargetSequence, "9001"}, At: t0.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	r := handle(t, b, c)
	if r.Decision.Outcome != "enrolled" || sink.statusCalls != 1 || sink.enrollCalls != 1 {
		t.Errorf("%s: %d status calls, %d enroll calls", r.Decision.Outcome, sink.statusCalls, sink.enrollCalls)
	}
}

// Calls made for a held crossing when it is released (not from Kafka)
// carry its crossing id in api_calls.
func TestReleasedCrossingCallsAudited(t *testing.T) {
	r := newAuditedRig(t, night, nil)
	if res := handle(t, r.bridge, crossing("h31", sandboxContact("31"))); res.Decision.Outcome != "held:business_hours" {
		t.Fatalf("%+v", res.Decision)
	}
	r.takeRows()
	r.clk.Set(morning)
	ds, err := r.bridge.ReleaseHeld(context.Background())
	if err != nil || len(ds) != 1 || ds[0].Outcome != "enrolled" {
		t.Fatalf("%v %+v", err, ds)
	}
	rows := r.takeRows()
	enrolls := 0
	for _, row := range rows {
		if row.CrossingID != "h31" {
			t.Errorf("%s %s audited with crossing %q", row.Method, row.Path, row.CrossingID)
		}
		if row.Method == http.MethodPost && strings.Contains(row.Path, "/enrollments") {
			enrolls++
		}
	}
	if enrolls != 1 {
		t.Errorf("%d enrollment calls audited in %d rows", enrolls, len(rows))
	}
}
