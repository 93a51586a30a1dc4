package enrollment

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type memRecorder struct {
	fail error
	got  []Decision
}

func (r *memRecorder) RecordDecisions(_ context.Context, ds []Decision) error {
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, ds...)
	return nil
}

func newBridge(t *testing.T, dir string, sink Sink, clk *clock, rec Recorder) *Bridge {
	t.Helper()
	return NewBridge(testCfg(t), openStore(t, dir), sink, rec, clk.Now, Retry{Sleep: noSleep})
}

func handle(t *testing.T, b *Bridge, c events.Crossing) Result {
	t.Helper()
	r, err := b.Handle(context.Background(), c)
	if err != nil {
		t.Fatalf("handle %s: %v", c.CrossingID, err)
	}
	return r
}

// night is 02:00 in New York on a Tuesday; morning the 09:00 opening.
var (
	night   = time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	morning = time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
)

func TestDuplicateCrossingEnrollsOnce(t *testing.T) {
	sink := newFakeSink()
	rec := &memRecorder{}
	b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, rec)
	c := crossing("a")
	first := handle(t, b, c)
	if first.Duplicate || first.Decision.Outcome != "enrolled" {
		t.Fatalf("first: %+v", first)
	}
	for range 3 {
		again := handle(t, b, c)
		if !again.Duplicate || again.Decision.Outcome != "enrolled" {
			t.Fatalf("redelivery: %+v", again)
		}
	}
	if sink.enrollCalls != 1 {
		t.Errorf("%d enroll calls", sink.enrollCalls)
	}
	if _, err := b.FlushOutbox(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Errorf("recorded %d decisions", len(rec.got))
	}
	// A different crossing for the same contact meets the ledger.
	if r := handle(t, b, crossing("a", func(c *events.Crossing) { c.CrossingID = "a2" })); r.Decision.Outcome != "already_enrolled:ledger" {
		t.Errorf("second crossing: %s", r.Decision.Outcome)
	}
	if sink.enrollCalls != 1 || sink.statusCalls != 0 {
		t.Errorf("calls: enroll %d status %d", sink.enrollCalls, sink.statusCalls)
	}
}

func TestHeldSurvivesRestartAndReleasesByScore(t *testing.T) {
	dir := t.TempDir()
	sink := newFakeSink()
	clk := &clock{now: night}
	b := newBridge(t, dir, sink, clk, nil)
	// u-1 may enroll 2 a day: the best two of three get the morning.
	for _, x := range []struct {
		id    string
		score float64
	}{{"low", 50}, {"high", 90}, {"mid", 70}} {
		c := crossing(x.id, func(c *events.Crossing) { c.Score = x.score })
		if r := handle(t, b, c); r.Decision.Outcome != "held:business_hours" || !r.Decision.NotBefore.Equal(morning) {
			t.Fatalf("%s: %+v", x.id, r.Decision)
		}
	}
	if r := handle(t, b, crossing("wf", nurture)); r.Decision.Outcome != "enrolled" {
		t.Fatalf("workflow at night: %s", r.Decision.Outcome)
	}
	// Crash: the store is closed without any shutdown work.
	b.Store.Close()

	b = newBridge(t, dir, sink, clk, nil)
	held, err := b.Store.Held()
	if err != nil || len(held) != 3 {
		t.Fatalf("held after restart: %d %v", len(held), err)
	}
	if st, _ := b.Store.Contact("k-wf"); len(st.Workflows) != 1 {
		t.Errorf("ledger lost the workflow: %+v", st)
	}
	if r := handle(t, b, crossing("mid")); !r.Duplicate {
		t.Errorf("held crossing redelivered was decided again: %+v", r)
	}
	if ds, _ := b.ReleaseHeld(context.Background()); len(ds) != 0 {
		t.Fatalf("released before the window: %v", ds)
	}

	clk.Set(morning)
	ds, err := b.ReleaseHeld(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.CrossingID+"="+d.Outcome)
	}
	want := "high=enrolled mid=enrolled low=held:quota"
	if strings.Join(got, " ") != want {
		t.Errorf("release order: %v, want %s", got, want)
	}
	var enrolls []string
	for _, call := range sink.calls {
		if strings.HasPrefix(call, "enroll ") {
			enrolls = append(enrolls, call)
		}
	}
	if got := strings.Join(enrolls, ","); got != "enroll k-high 9001,enroll k-mid 9001" {
		t.Errorf("enroll calls %s", got)
	}
	held, _ = b.Store.Held()
	if len(held) != 1 || held[0].Crossing.CrossingID != "low" || !held[0].HeldSince.Equal(night) {
		t.Errorf("still held: %+v", held)
	}
	// The quota frees a day after the first enrollment.
	clk.Set(morning.Add(day))
	ds, _ = b.ReleaseHeld(context.Background())
	if len(ds) != 1 || ds[0].Outcome != "enrolled" {
		t.Errorf("next day: %+v", ds)
	}
}

func TestHoldExpires(t *testing.T) {
	clk := &clock{now: night}
	sink := newFakeSink()
	sink.wfErrs = []error{err503, err503, err503, err503}
	b := newBridge(t, t.TempDir(), sink, clk, nil)
	c := crossing("a", nurture)
	if r := handle(t, b, c); r.Decision.Outcome != "held:sink_unavailable" {
		t.Fatalf("%+v", r.Decision)
	}
	clk.Set(night.Add(73 * time.Hour))
	ds, err := b.ReleaseHeld(context.Background())
	if err != nil || len(ds) != 1 || ds[0].Outcome != "failed:hold_expired" || !strings.Contains(ds[0].Detail, "held:sink_unavailable") {
		t.Fatalf("%v %+v", err, ds)
	}
	if d, ok, _ := b.Store.Processed("a"); !ok || d.Outcome != "failed:hold_expired" {
		t.Errorf("not final: %+v", d)
	}
}

// A crash between the sink accepting and the decision being stored: the
// intent survives, and recovery finds the enrollment instead of repeating it.
func TestRecoverInterruptedCall(t *testing.T) {
	for _, via := range []string{"recover", "redelivery"} {
		t.Run(via, func(t *testing.T) {
			dir := t.TempDir()
			sink := newFakeSink()
			clk := &clock{now: t0}
			b := newBridge(t, dir, sink, clk, nil)
			c := crossing("a")
			if err := b.Store.PutIntent(Intent{Crossing: c, Target: Target{TargetSequence, "9001"}, OwnerID: "u-1", At: t0}); err != nil {
				t.Fatal(err)
			}
			sink.enrolled[c.ContactID] = Enrollment{ID: "enr-42", SequenceID: "9001"}
			b.Store.Close()

			b = newBridge(t, dir, sink, clk, nil)
			var d Decision
			if via == "recover" {
				ds, err := b.Recover(context.Background())
				if err != nil || len(ds) != 1 {
					t.Fatalf("%v %v", err, ds)
				}
				d = ds[0]
			} else {
				d = handle(t, b, c).Decision
			}
			if d.Outcome != "enrolled" || d.EnrollmentID != "enr-42" || sink.enrollCalls != 0 {
				t.Fatalf("%+v after %d enroll calls", d, sink.enrollCalls)
			}
			if ins, _ := b.Store.Intents(); len(ins) != 0 {
				t.Errorf("intents left: %v", ins)
			}
			if u, _ := b.Store.SenderUsage("u-1"); len(u.Enrollments) != 1 {
				t.Errorf("quota did not count the recovered enrollment: %+v", u)
			}
		})
	}
}

func TestOutboxSurvivesRecorderFailure(t *testing.T) {
	rec := &memRecorder{fail: errors.New("clickhouse down")}
	b := newBridge(t, t.TempDir(), newFakeSink(), &clock{now: t0}, rec)
	handle(t, b, crossing("a"))
	handle(t, b, crossing("b", set("email", "spy@competitor.com")))
	if _, err := b.FlushOutbox(context.Background(), 1); err == nil {
		t.Fatal("failure not reported")
	}
	rec.fail = nil
	n, err := b.FlushOutbox(context.Background(), 1)
	if err != nil || n != 2 || len(rec.got) != 2 {
		t.Fatalf("flushed %d %v %v", n, err, rec.got)
	}
	if rec.got[0].Outcome != "enrolled" || rec.got[1].Outcome != "suppressed:email_domain" || rec.got[1].Stage != "suppress" {
		t.Errorf("recorded %+v", rec.got)
	}
	if n, _ := b.FlushOutbox(context.Background(), 10); n != 0 {
		t.Errorf("recorded twice")
	}
}

// Issue 7: nurture then sales, sales then a late nurture, and a workflow
// outage that blocks no sequence.
func TestWorkflowAndSequenceTogether(t *testing.T) {
	t.Run("nurture then sales", func(t *testing.T) {
		sink := newFakeSink()
		b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, nil)
		if r := handle(t, b, crossing("n", nurture, func(c *events.Crossing) { c.ContactID = "k-x"; c.Contact["email"] = "x@prospect.com" })); r.Decision.Outcome != "enrolled" {
			t.Fatalf("nurture: %+v", r.Decision)
		}
		r := handle(t, b, crossing("s", func(c *events.Crossing) { c.ContactID = "k-x"; c.Contact["email"] = "x@prospect.com" }))
		if r.Decision.Outcome != "enrolled" || strings.Join(r.Decision.Unenrolled, ",") != "501" {
			t.Fatalf("sales: %+v", r.Decision)
		}
		if len(sink.workflows["x@prospect.com"]) != 0 {
			t.Errorf("still in %v", sink.workflows["x@prospect.com"])
		}
	})
	t.Run("sales then late nurture", func(t *testing.T) {
		sink := newFakeSink()
		b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, nil)
		handle(t, b, crossing("s", func(c *events.Crossing) { c.ContactID = "k-x" }))
		r := handle(t, b, crossing("n", nurture, func(c *events.Crossing) { c.ContactID = "k-x" }))
		if r.Decision.Outcome != "excluded:conflicting_sequence" || r.Decision.InSequence != "9001" {
			t.Fatalf("late nurture: %+v", r.Decision)
		}
		for _, call := range sink.calls {
			if strings.HasPrefix(call, "wf-enroll") {
				t.Errorf("workflow called: %v", sink.calls)
			}
		}
	})
	t.Run("workflow outage blocks no sequence", func(t *testing.T) {
		sink := newFakeSink()
		clk := &clock{now: t0}
		b := newBridge(t, t.TempDir(), sink, clk, nil)
		sink.wfErrs = []error{err503, err503, err503, err503}
		same := func(c *events.Crossing) { c.ContactID = "k-x" }
		if r := handle(t, b, crossing("n", nurture, same)); r.Decision.Outcome != "held:sink_unavailable" {
			t.Fatalf("nurture in outage: %+v", r.Decision)
		}
		if r := handle(t, b, crossing("s", same)); r.Decision.Outcome != "enrolled" {
			t.Fatalf("sequence blocked: %+v", r.Decision)
		}
		clk.Set(t0.Add(10 * time.Minute))
		ds, err := b.ReleaseHeld(context.Background())
		if err != nil || len(ds) != 1 || ds[0].Outcome != "excluded:conflicting_sequence" {
			t.Fatalf("released nurture: %v %+v", err, ds)
		}
	})
}

func TestPruneProcessed(t *testing.T) {
	b := newBridge(t, t.TempDir(), newFakeSink(), &clock{now: t0}, nil)
	handle(t, b, crossing("a", set("lifecycle_stage", "opportunity")))
	if n, err := b.Store.PruneProcessed(t0); err != nil || n != 0 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if n, err := b.Store.PruneProcessed(t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if _, ok, _ := b.Store.Processed("a"); ok {
		t.Errorf("still there")
	}
}

func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	if _, err := OpenStore(dir); err == nil {
		t.Fatal("second open of a state dir succeeded")
	}
}

// A workflow outage when the contact enters a sequence: the sequence
// stands, and the exit from the conflicting workflow is retried until done.
func TestUnenrollRetriedAfterOutage(t *testing.T) {
	sink := newFakeSink()
	clk := &clock{now: t0}
	rec := &memRecorder{}
	b := newBridge(t, t.TempDir(), sink, clk, rec)
	if r := handle(t, b, crossing("n", nurture)); r.Decision.Outcome != "enrolled" {
		t.Fatalf("nurture: %+v", r.Decision)
	}
	sink.wfErrs = []error{err503, err503, err503, err503}
	r := handle(t, b, crossing("s", func(c *events.Crossing) { c.ContactID = "k-n"; c.Contact["email"] = "n@prospect.com" }))
	if r.Decision.Outcome != "enrolled" || strings.Join(r.Decision.UnenrollFailed, ",") != "501" {
		t.Fatalf("sales: %+v", r.Decision)
	}
	// Still failing: rescheduled, nothing recorded.
	sink.wfErrs = []error{err503}
	if ds, err := b.RetryUnenrolls(context.Background()); err != nil || len(ds) != 0 {
		t.Fatalf("%v %+v", err, ds)
	}
	if ds, _ := b.RetryUnenrolls(context.Background()); len(ds) != 0 {
		t.Fatalf("retried before its backoff: %+v", ds)
	}
	clk.Set(t0.Add(time.Hour))
	ds, err := b.RetryUnenrolls(context.Background())
	if err != nil || len(ds) != 1 || ds[0].Outcome != "workflow_unenrolled" || ds[0].CrossingID != "s" || ds[0].InSequence != "9001" {
		t.Fatalf("%v %+v", err, ds)
	}
	if len(sink.workflows["n@prospect.com"]) != 0 {
		t.Errorf("still in %v", sink.workflows["n@prospect.com"])
	}
	if st, _ := b.Store.Contact("k-n"); len(st.Workflows) != 0 {
		t.Errorf("ledger workflows %v", st.Workflows)
	}
	if ds, _ := b.RetryUnenrolls(context.Background()); len(ds) != 0 {
		t.Errorf("done twice: %+v", ds)
	}
	b.FlushOutbox(context.Background(), 100)
	if last := rec.got[len(rec.got)-1]; last.Outcome != "workflow_unenrolled" {
		t.Errorf("audit: %+v", last)
	}
}

// Concurrent crossings: a sender's quota and a contact's single sequence
// hold under parallel Handle calls (run with -race).
func TestConcurrentHandle(t *testing.T) {
	sink := newFakeSink()
	b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, nil)
	var wg sync.WaitGroup
	results := make(chan Result, 40)
	for i := range 20 {
		id := "p" + string(rune('a'+i))
		wg.Add(2)
		go func() { // 20 contacts of u-1, whose quota is 2 a day
			defer wg.Done()
			r, err := b.Handle(context.Background(), crossing(id))
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
		go func() { // 20 crossings of one contact of u-2
			defer wg.Done()
			r, err := b.Handle(context.Background(), crossing(id, func(c *events.Crossing) {
				c.CrossingID, c.ContactID, c.CompanyID = "same-"+id, "k-same", ""
				c.Contact["owner_id"] = "u-2"
			}))
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	wg.Wait()
	close(results)
	count := map[string]int{}
	for r := range results {
		who := "many"
		if r.Decision.ContactID == "k-same" {
			who = "same"
		}
		count[who+" "+r.Decision.Outcome]++
	}
	want := map[string]int{"many enrolled": 2, "many held:quota": 18, "same enrolled": 1, "same already_enrolled:ledger": 19}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, count[k], v, count)
		}
	}
	if sink.enrollCalls != 3 {
		t.Errorf("%d enroll calls", sink.enrollCalls)
	}
}

func TestKeyedLocks(t *testing.T) {
	var k keyedLocks
	unlock := k.lock("b", "a", "a")
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.lock("a")()
	}()
	select {
	case <-done:
		t.Fatal("second holder of a got in")
	case <-time.After(20 * time.Millisecond):
	}
	k.lock("c")() // unrelated keys do not wait
	unlock()
	<-done
	if len(k.m) != 0 {
		t.Errorf("locks leak: %v", k.m)
	}
}

// The decision's JSON is what the Recorder and GET /decisions carry: pinned.
func TestDecisionJSON(t *testing.T) {
	sink := newFakeSink()
	sink.workflows["a@prospect.com"] = []string{"501"}
	b := newBridge(t, t.TempDir(), sink, &clock{now: t0}, nil)
	enrolled := handle(t, b, crossing("a")).Decision
	b.Config.BusinessHours.WeekdaysOnly = true
	b.Now = func() time.Time { return night }
	heldD := handle(t, b, crossing("b")).Decision
	out, err := json.MarshalIndent([]Decision{enrolled, heldD}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "decisions.golden.json", string(out)+"\n")
}
