package enrollment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	bolt "go.etcd.io/bbolt"
)

func msg(t *testing.T, c events.Crossing) Message {
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Key: c.ContactID, Value: b}
}

type deadLetters struct {
	mu      sync.Mutex
	reasons []string
}

func (d *deadLetters) add(_ context.Context, _ Message, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reasons = append(d.reasons, reason)
	return nil
}

func newService(t *testing.T, sink Sink) (*Service, *LocalAudit, *deadLetters) {
	t.Helper()
	st := openStore(t, t.TempDir())
	audit, err := NewLocalAudit(st)
	if err != nil {
		t.Fatal(err)
	}
	m := NewServiceMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	b := NewBridge(testCfg(t), st, m.MeterSink(sink), audit, func() time.Time { return t0 }, Retry{Sleep: noSleep})
	dl := &deadLetters{}
	return &Service{Bridge: b, Metrics: m, DeadLetter: dl.add, Workers: 3}, audit, dl
}

func submit(svc *Service, stop context.Context, msgs ...Message) chan bool {
	done := make(chan bool, 1)
	svc.Submit(stop, msgs, func(ok bool) { done <- ok })
	return done
}

func wait[T any](t *testing.T, ch chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func TestServiceSubmitDecidesDeduplicatesAndDeadLetters(t *testing.T) {
	sink := newFakeSink()
	svc, audit, dl := newService(t, sink)
	a, b := crossing("a"), crossing("b")
	ok := wait(t, submit(svc, context.Background(),
		msg(t, a), msg(t, b), Message{Key: "k-x", Value: []byte(`{"crossing_id":`)}, msg(t, a)))
	if !ok {
		t.Fatal("batch not done")
	}
	if sink.enrollCalls != 2 {
		t.Errorf("enroll calls = %d, want 2 (a once, b once)", sink.enrollCalls)
	}
	if len(dl.reasons) != 1 || !strings.Contains(dl.reasons[0], "malformed crossing") {
		t.Errorf("dead letters = %q", dl.reasons)
	}
	if err := svc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds, err := audit.Decisions("k-a")
	if err != nil || len(ds) != 1 || ds[0].Outcome != "enrolled" || ds[0].CrossingID != "a" {
		t.Fatalf("audit of k-a = %+v, %v", ds, err)
	}
	if out, _ := svc.Bridge.Store.Outbox(10); len(out) != 0 {
		t.Errorf("outbox not acknowledged after the local audit stored it: %d left", len(out))
	}
}

// gateSink blocks Enroll for one contact until the gate opens.
type gateSink struct {
	*fakeSink
	slow string
	gate chan struct{}
	in   chan struct{}
}

func (g *gateSink) Enroll(ctx context.Context, r EnrollRequest) (Enrollment, error) {
	if r.ContactID == g.slow {
		g.in <- struct{}{}
		<-g.gate
	}
	return g.fakeSink.Enroll(ctx, r)
}

// A slow contact holds up no other contact (given a free worker: x, of the
// same sender, waits on the sender's lock inside Handle and holds one), its own next crossing waits
// for it, and after stop nothing new starts and the batch reports not done.
func TestServiceKeyOrderAndStop(t *testing.T) {
	sink := &gateSink{fakeSink: newFakeSink(), slow: "k-slow", gate: make(chan struct{}), in: make(chan struct{}, 1)}
	svc, audit, _ := newService(t, sink)
	stop, cancel := context.WithCancel(context.Background())
	slow := crossing("slow", func(c *events.Crossing) { c.ContactID = "k-slow" })
	first := submit(svc, stop, msg(t, slow), msg(t, crossing("x")))
	wait(t, sink.in)
	second := submit(svc, stop, msg(t, crossing("y", set("owner_id", "u-2")))) // another sender: no shared lock
	if !wait(t, second) {
		t.Fatal("k-y waited for k-slow")
	}
	later := crossing("slow2", func(c *events.Crossing) { c.ContactID = "k-slow"; nurture(c) })
	third := submit(svc, stop, msg(t, later))
	cancel()
	close(sink.gate)
	if !wait(t, first) {
		t.Error("the batch whose calls had started did not finish")
	}
	if wait(t, third) {
		t.Error("k-slow's next crossing ran after stop")
	}
	if err := svc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds, _ := audit.Decisions("k-slow")
	if len(ds) != 1 || ds[0].CrossingID != "slow" {
		t.Errorf("k-slow decisions = %+v, want only the first", ds)
	}
}

func TestDecisionRowsAndLocalAuditPrune(t *testing.T) {
	d := Decision{CrossingID: "c1", ContactID: "k1", Kind: KindEnrolled, Outcome: "enrolled", OwnerID: "u-1",
		Target: &Target{Kind: TargetSequence, ID: "9001"}, Unenrolled: []string{"501"}, DecidedAt: t0}
	held := d
	held.Kind, held.Reason, held.Outcome = KindHeld, ReasonQuota, "held:quota"
	// The id names a decision across replays and restarts: what it is made
	// of (crossing, outcome, target, time) changes it, nothing else does.
	same := d
	same.Detail, same.OwnerID, same.Unenrolled = "another detail", "u-9", nil
	same.DecidedAt = t0.In(time.FixedZone("CET", 3600))
	if DecisionID(same) != DecisionID(d) {
		t.Error("decision id depends on more than crossing, outcome, target and time")
	}
	for name, change := range map[string]func(*Decision){
		"crossing":  func(x *Decision) { x.CrossingID = "c2" },
		"outcome":   func(x *Decision) { x.Outcome = held.Outcome },
		"target":    func(x *Decision) { x.Target = &Target{Kind: TargetSequence, ID: "9002"} },
		"no target": func(x *Decision) { x.Target = nil },
		"time":      func(x *Decision) { x.DecidedAt = t0.Add(time.Nanosecond) },
		// Fields are length-prefixed: moving a byte from one to the next
		// is another id.
		"boundary": func(x *Decision) { x.CrossingID, x.Outcome = "c1e", "nrolled" },
	} {
		x := d
		change(&x)
		if DecisionID(x) == DecisionID(d) {
			t.Errorf("decision id ignores the %s", name)
		}
	}
	rows, evs := DecisionRows([]Decision{d, held})
	if len(rows) != 2 || rows[0].Outcome != "enrolled" || rows[1].Reason != "quota" || rows[0].TargetID != "9001" ||
		!strings.Contains(rows[0].Detail, `"unenrolled_workflows":["501"]`) {
		t.Fatalf("rows = %+v", rows)
	}
	if len(evs) != 1 || evs[0].SequenceID != "9001" || evs[0].CrossingID != "c1" {
		t.Fatalf("enrollment events = %+v", evs)
	}
	ctx, end := NewServiceMetrics(prometheus.NewRegistry(), func() float64 { return 0 }).begin(withCrossing(context.Background(), "c1"))
	defer end()
	if ref := callRefOf(ctx); ref.CrossingID != "c1" || ref.Call == 0 {
		t.Errorf("call ref = %+v", ref)
	}

	audit, err := NewLocalAudit(openStore(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	old := d
	old.DecidedAt = t0.Add(-48 * time.Hour)
	other := d
	other.ContactID = "k10" // shares the prefix "k1" but not the key
	if err := audit.RecordDecisions(context.Background(), []Decision{held, d, old, other, d}); err != nil {
		t.Fatal(err)
	}
	ds, _ := audit.Decisions("k1")
	var got []string
	for _, x := range ds {
		got = append(got, x.DecidedAt.Format("02T15")+" "+x.Outcome)
	}
	if want := []string{"08T14 enrolled", "10T14 enrolled", "10T14 held:quota"}; !slices.Equal(got, want) &&
		!slices.Equal(got, []string{"08T14 enrolled", "10T14 held:quota", "10T14 enrolled"}) {
		t.Fatalf("k1 decisions = %v, want %v (a repeat stored once)", got, want)
	}
	if n, err := audit.Prune(t0.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
}

type callRecorder struct {
	memRecorder
	rows []analytics.APICall
}

func (r *callRecorder) RecordAPICalls(_ context.Context, rows []analytics.APICall) error {
	if r.fail != nil {
		return r.fail
	}
	r.rows = append(r.rows, rows...)
	return nil
}

// An api_calls row is on disk once the hook returned: a process that dies
// right after (the store is reopened without a Close) still has it, and
// the flush hands it to the recorder once; the gauges count without
// reading rows.
func TestAPICallRowsSurviveAKill(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := st.AppendAPICall(analytics.APICall{CallID: fmt.Sprint("c", i), CrossingID: "x", Method: "POST"}); err != nil {
			t.Fatal(err)
		}
	}
	// kill -9: the file as it is on disk now is what the next run opens.
	next := t.TempDir()
	if err := st.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(filepath.Join(next, StoreFile), 0o600) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	b := newBridge(t, next, newFakeSink(), &clock{now: t0}, nil)
	if _, _, calls := b.Store.Sizes(); calls != 3 {
		t.Fatalf("calls outbox counts %d after restart, want 3", calls)
	}
	rec := &callRecorder{memRecorder: memRecorder{fail: errors.New("clickhouse down")}}
	b.Recorder = rec
	if _, err := b.FlushOutbox(context.Background(), 2); err == nil {
		t.Fatal("a failing recorder must be reported")
	}
	rec.fail = nil
	if _, err := b.FlushOutbox(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if len(rec.rows) != 3 || rec.rows[0].CallID != "c0" || rec.rows[2].CallID != "c2" {
		t.Fatalf("recorded %+v", rec.rows)
	}
	if _, _, calls := b.Store.Sizes(); calls != 0 {
		t.Errorf("calls outbox counts %d after the flush", calls)
	}
}

// A call started (its row stored before the request left) and never
// completed, because the process was killed before the answer, becomes an
// api_calls row marked interrupted at the next start; a completed call is
// one row, never also an interrupted one.
func TestStartedCallsWithoutAnswerBecomeInterruptedRows(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	for _, id := range []string{"answered", "cut"} {
		row := analytics.APICall{CallID: id, ContactID: "c-" + id, CrossingID: "x-" + id, Method: "POST",
			Path: "/automation/v4/sequences/enrollments", RequestBody: `{"contactId":"c-` + id + `"}`, At: at}
		if err := st.StartAPICall(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AppendAPICall(analytics.APICall{CallID: "answered", ContactID: "c-answered", Method: "POST", Status: 200, At: at}); err != nil {
		t.Fatal(err)
	}
	// kill -9 before "cut" is answered: the next run opens the file as it is.
	next := t.TempDir()
	if err := st.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(filepath.Join(next, StoreFile), 0o600) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = OpenStore(next)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.InterruptAPICalls(); err != nil || n != 1 {
		t.Fatalf("InterruptAPICalls = %d, %v; want 1", n, err)
	}
	if n, err := st.InterruptAPICalls(); err != nil || n != 0 {
		t.Fatalf("second InterruptAPICalls = %d, %v; want 0", n, err)
	}
	if _, _, calls := st.Sizes(); calls != 2 {
		t.Errorf("calls outbox counts %d, want 2", calls)
	}
	rows, err := st.CallOutbox(10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]analytics.APICall{}
	for _, e := range rows {
		if _, dup := got[e.Row.CallID]; dup {
			t.Errorf("call %s recorded twice", e.Row.CallID)
		}
		got[e.Row.CallID] = e.Row
	}
	if r := got["answered"]; len(got) != 2 || r.Status != 200 || r.Error != "" {
		t.Fatalf("rows %+v", got)
	}
	cut := got["cut"]
	if cut.Status != 0 || cut.Error != InterruptedCall || cut.ContactID != "c-cut" || cut.CrossingID != "x-cut" ||
		cut.Method != "POST" || cut.Path != "/automation/v4/sequences/enrollments" || cut.RequestBody == "" || !cut.At.Equal(at) {
		t.Errorf("interrupted row %+v", cut)
	}
}
