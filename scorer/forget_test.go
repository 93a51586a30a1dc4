package scorer

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// forgetEnv is a scorer service (Run) over kfake and a database of the
// shared ClickHouse of its own.
type forgetEnv struct {
	brokers []string
	dsn     string
	store   *analytics.Store
	events  *stream.Producer
	at      time.Time
	n       int
	rules   string // the rule directory; default ../testdata/rules
}

func newForgetEnv(t *testing.T) *forgetEnv {
	t.Helper()
	dsn := analyticstest.DSN(t, "sb_forget")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	fe := &forgetEnv{brokers: c.ListenAddrs(), dsn: dsn, at: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}
	ctx := ctxFor(t, 30*time.Second)
	if err := stream.EnsureTopics(ctx, fe.brokers, stream.Topic{Name: "events", Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	if fe.store, err = analytics.Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fe.store.Close() })
	fe.events = producer(t, fe.brokers, "events")
	return fe
}

// run starts the service and returns its base URL and a stop function.
func (fe *forgetEnv) run(t *testing.T) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := serve(t, ctx, Options{
		Brokers: fe.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", ScoresTopic: "lead-scores", Group: "scorer", Rules: []string{cmp.Or(fe.rules, "../testdata/rules")}, CompanyScoresTopic: "company-scores",
		ClickHouse: fe.dsn, HTTP: "127.0.0.1:0", Log: zerolog.Nop(),
	})
	return "http://" + addr, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stop: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("did not stop")
		}
	}
}

// produce writes events of the contact, minutes after the env's start
// (negative: before).
func (fe *forgetEnv) produce(t *testing.T, contact, typ string, minutes int, props map[string]any) events.Event {
	t.Helper()
	fe.n++
	ev := events.Event{ID: fmt.Sprintf("ev-%s-%d", contact, fe.n), Type: typ, ContactID: contact,
		OccurredAt: fe.at.Add(time.Duration(minutes) * time.Minute), Properties: props,
		Contact: map[string]any{"email": contact + "@example.com"}}
	fe.send(t, ev)
	return ev
}

func (fe *forgetEnv) send(t *testing.T, evs ...events.Event) {
	t.Helper()
	var msgs []stream.Record
	for _, ev := range evs {
		data, _ := json.Marshal(ev)
		msgs = append(msgs, stream.Message(ev.ContactID, data))
	}
	if err := fe.events.Write(ctxFor(t, 10*time.Second), msgs...); err != nil {
		t.Fatal(err)
	}
}

func call(minutes int) map[string]any { return map[string]any{"duration_s": 120} }

// waitScore waits until the score endpoint answers want for the contact.
func waitScore(t *testing.T, base, contact string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, base+"/contacts/"+contact+"/score?model=engagement")
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: score endpoint %d %s, want %d", contact, code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMarkers waits until the changelog holds the contacts' markers: the
// state step that writes them is the last of a batch's durable steps, so
// its lead-scores messages, history and erasure are done by then.
func waitMarkers(t *testing.T, brokers []string, contacts ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		states, missing := latest(t, brokers, "states"), []string(nil)
		for _, c := range contacts {
			if states[string(MarkerKey(c))] == nil {
				missing = append(missing, c)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no marker on the changelog for %v", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCaughtUp waits until the scorer's group committed every partition
// of the events topic to its end: every event sent so far was scored and
// made durable, whichever partition it is in.
func (fe *forgetEnv) waitCaughtUp(t *testing.T) {
	t.Helper()
	admin := stream.NewAdmin(fe.brokers)
	defer admin.Close()
	ctx := ctxFor(t, time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := admin.CaughtUp(ctx, "scorer", "events", partitions)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the scorer did not commit every partition of the events topic within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// latest reads a compacted topic's latest record per key; a tombstone is
// a nil value.
func latest(t *testing.T, brokers []string, topic string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, m := range readTopic(t, brokers, topic, partitions) {
		out[string(m.Key)] = m.Value
	}
	return out
}

// A privacy deletion leaves nothing of the contact: not its state (the
// score endpoint answers 404, the changelog's record is a tombstone), not
// its lead-scores message (tombstone), no row in any ClickHouse table,
// bridge tables included. Late events (a replay of old ones, new ones)
// do not bring it back, also after a restart that restores the state from
// the changelog. A plain deletion forgets the state and the message and
// keeps the history; an event after it starts the contact again.
func TestPrivacyDeletionLeavesNothing(t *testing.T) {
	fe := newForgetEnv(t)
	base, stop := fe.run(t)
	var gone []events.Event
	for _, c := range []string{"9401", "9402", "9403"} {
		ev := fe.produce(t, c, "call_started", 0, call(0))
		if c == "9401" {
			gone = append(gone, ev)
		}
		ev = fe.produce(t, c, "form_submitted", 1, map[string]any{"form": "demo_request"})
		if c == "9401" {
			gone = append(gone, ev)
		}
		fe.produce(t, c, "meeting_booked", 2, nil) // 45: past the threshold, a crossing
	}
	for _, c := range []string{"9401", "9402", "9403"} {
		waitScore(t, base, c, 200)
	}
	// What the bridge would have written about 9401 (and a batch call
	// about 9401 and 9402).
	ctx := ctxFor(t, 2*time.Minute)
	w := fe.store.NewWriter(analytics.WriterOptions{})
	at := fe.at.Add(3 * time.Minute)
	w.AddDecisions(analytics.Decision{DecisionID: "d1", ContactID: "9401", Outcome: "enrolled", DecidedAt: at})
	w.AddEnrollmentEvents(analytics.EnrollmentEvent{EventID: "n1", ContactID: "9401", Kind: analytics.KindEnrolled, At: at})
	w.AddAPICalls(analytics.APICall{CallID: "a1", ContactID: "9401", Method: "POST", Path: "/automation/v4/sequences/enrollments", RequestBody: `{"contactId":"9401"}`, At: at},
		analytics.APICall{CallID: "a2", Method: "POST", Path: "/crm/v3/objects/contacts/batch/update", RequestBody: `{"inputs":[{"id":"9401"},{"id":"9402"}]}`, At: at})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fe.store.InsertWriteback(ctx, []analytics.WritebackRow{{ContactID: "9401", Properties: "{}", Result: "ok", ScoresAt: at, WrittenAt: at}}); err != nil {
		t.Fatal(err)
	}
	// The scorer stores the history behind the score endpoint (which
	// answers from memory): wait for every contact's rows.
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range []string{"9401", "9402", "9403"} {
		for {
			rows, err := fe.store.ContactRows(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			var empty []string
			for _, table := range analytics.ContactTables {
				if table == "company_scores" {
					continue // no company model here: TestPrivacyDeletionLeavesNothingInCompanies
				}
				if rows[table] == 0 && (c == "9401" || table == "touches" || table == "crossings") {
					empty = append(empty, table)
				}
			}
			if len(empty) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no row of %s in %v before its deletion: the test would check nothing", c, empty)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// An event of 9401 in the same batch as, and before, its deletion is
	// dropped with it.
	fe.send(t, events.Event{ID: "late-in-batch", Type: "cta_clicked", ContactID: "9401", OccurredAt: fe.at.Add(4 * time.Minute)},
		events.Event{ID: "hubspot-webhook-1", Type: TypePrivacyDeleted, ContactID: "9401", OccurredAt: fe.at.Add(5 * time.Minute)},
		events.Event{ID: "hubspot-webhook-2", Type: TypeContactDeleted, ContactID: "9403", OccurredAt: fe.at.Add(5 * time.Minute)})
	waitScore(t, base, "9401", 404)
	waitScore(t, base, "9403", 404)
	// The endpoint answers from memory, which Handle changes before the
	// batch is made durable behind it (pipeline.go): wait for the markers,
	// written by the last durable step, before reading what the batch wrote.
	waitMarkers(t, fe.brokers, "9401", "9403")
	checkForgotten := func(when string, forgotten ...string) {
		t.Helper()
		scores := latest(t, fe.brokers, "lead-scores")
		for _, c := range forgotten {
			if v, ok := scores[c]; !ok || v != nil {
				t.Errorf("%s: lead-scores' latest for %s is %q, want a tombstone", when, c, v)
			}
		}
		if _, ok, err := leadscores.Decode([]byte("9402"), scores["9402"]); !ok || err != nil {
			t.Errorf("%s: 9402's lead-scores message: %v", when, err)
		}
		states := latest(t, fe.brokers, "states")
		for _, c := range forgotten {
			if v, ok := states[c]; !ok || v != nil {
				t.Errorf("%s: changelog's latest for %s is not a tombstone", when, c)
			}
			if mk, ok := states[string(MarkerKey(c))]; !ok || !strings.Contains(string(mk), `"forgotten_at"`) {
				t.Errorf("%s: no marker for %s: %q", when, c, mk)
			}
		}
		if err := fe.store.WaitMutations(ctx); err != nil {
			t.Fatal(err)
		}
		left, err := fe.store.ContactRows(ctx, "9401")
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range left {
			if n != 0 {
				t.Errorf("%s: %d rows of 9401 left in %s", when, n, table)
			}
		}
		for _, c := range []string{"9402", "9403"} { // a plain deletion keeps the history
			kept, _ := fe.store.ContactRows(ctx, c)
			if kept["touches"] == 0 || kept["crossings"] == 0 {
				t.Errorf("%s: %s's history was erased: %v", when, c, kept)
			}
		}
	}
	checkForgotten("after the deletions", "9401", "9403")

	// Late events: 9401's old events replayed and a new one; 9403's old
	// one replayed (dropped) and one after its deletion (scored afresh).
	fe.send(t, gone...)
	fe.produce(t, "9401", "call_started", 10, call(0))
	fe.produce(t, "9403", "email_opened", 1, nil)
	fe.produce(t, "9403", "cta_clicked", 10, nil)
	body := waitScore(t, base, "9403", 200)
	var line struct{ Score float64 }
	json.Unmarshal([]byte(body), &line)
	if line.Score != 6 {
		t.Errorf("9403 after its deletion: score %v, want 6 (the click after it only)", line.Score)
	}
	waitScore(t, base, "9401", 404)
	// 9401's events sit in its own partition: 9403's answer does not say
	// they were scored. Every partition committed to its end does.
	fe.waitCaughtUp(t)
	stop()
	checkForgotten("after late events", "9401")

	// A restart restores the markers from the changelog: a replay still
	// changes nothing.
	base, stop = fe.run(t)
	waitScore(t, base, "9402", 200)
	fe.send(t, gone...)
	fe.produce(t, "9402", "email_opened", 11, nil) // a marker of when the replay was scored
	deadline = time.Now().Add(30 * time.Second)
	for {
		body := waitScore(t, base, "9402", 200)
		if strings.Contains(body, `"email_opened":2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("9402's last event not scored: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitScore(t, base, "9401", 404)
	// The replay of 9401 may be in another partition than 9402's event:
	// wait until every partition committed to its end.
	fe.waitCaughtUp(t)
	_, metrics := get(t, base+"/metrics")
	if got := metric(metrics, `scorer_events_total{outcome="suppressed"}`); got != float64(len(gone)) {
		t.Errorf("%v suppressed events counted after the restart, want %d (the replay of 9401's events)", got, len(gone))
	}
	stop()
	checkForgotten("after a restart and a replay", "9401")
}

// Snapshots keep the markers.
func TestSnapshotKeepsMarkers(t *testing.T) {
	fe := setup(t, 1)
	part := &partition{id: 1, engine: fe.engine, scorer: scoring.NewScorer(fe.engine), contacts: map[string]*scoring.Contact{},
		forgotten: map[string]marker{"9501": {At: 42, Kind: privacy}, "9502": {At: 43, Kind: deleted}}, next: 7}
	dir := t.TempDir()
	if err := writeSnapshot(dir, "events", part, 9); err != nil {
		t.Fatal(err)
	}
	got, ok, err := readSnapshot(dir, "events", 1, 7, 9, fe.engine)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if len(got.forgotten) != 2 || got.forgotten["9501"] != (marker{42, privacy}) || got.forgotten["9502"] != (marker{43, deleted}) {
		t.Errorf("markers %v", got.forgotten)
	}
}

// scorer forget: the privacy deletion from the command line, through the
// running scorer, with its ClickHouse rows erased and nothing left.
func TestForgetCommand(t *testing.T) {
	fe := newForgetEnv(t)
	base, stop := fe.run(t)
	defer func() { stop() }()
	fe.produce(t, "9601", "call_started", 0, call(0))
	fe.produce(t, "9601", "meeting_booked", 1, nil)
	fe.produce(t, "9602", "meeting_booked", 1, nil)
	waitScore(t, base, "9601", 200)
	waitScore(t, base, "9602", 200)
	res, err := Forget(ctxFor(t, time.Minute), ForgetOptions{Brokers: fe.brokers, EventsTopic: "events", Changelog: "states", Store: fe.store, Wait: 30 * time.Second}, []string{"9601"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].Applied {
		t.Fatalf("result %+v", res)
	}
	for table, n := range res[0].RowsLeft {
		if n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
	waitScore(t, base, "9601", 404)
	if v, ok := latest(t, fe.brokers, "lead-scores")["9601"]; !ok || v != nil {
		t.Errorf("lead-scores' latest for 9601: %q", v)
	}
	kept, _ := fe.store.ContactRows(ctxFor(t, time.Minute), "9602")
	if kept["touches"] == 0 {
		t.Errorf("the other contact's touches were erased")
	}
	// Without a running scorer the wait fails with a clear error.
	stop()
	stop = func() {}
	_, err = Forget(ctxFor(t, time.Minute), ForgetOptions{Brokers: fe.brokers, EventsTopic: "events", Changelog: "states", Wait: time.Second}, []string{"9602"})
	if err == nil || !strings.Contains(err.Error(), "did not apply the deletion") {
		t.Errorf("no scorer: %v", err)
	}
}

// A group of batches written at once: a state of the contact from a batch
// before its deletion comes before the tombstone, a state from the
// deletion's batch (a contact started again) after it.
func TestChangelogOrderInAGroup(t *testing.T) {
	state := func(id, v string) stream.Record { return stream.Record{Key: []byte(id), Value: []byte(v)} }
	b1 := &pending{stateMsgs: []stream.Record{state("9701", "s1"), state("9702", "s1")}}
	b2 := &pending{batch: batch{forgets: []forgetting{{id: "9701", marker: marker{At: 5, Kind: privacy}}, {id: "9702", marker: marker{At: 5, Kind: deleted}}}},
		stateMsgs: []stream.Record{state("9702", "again")}}
	last := map[string][]byte{}
	for _, m := range changelogMsgs([]*pending{b1, b2}) {
		last[string(m.Key)] = m.Value
	}
	if v, ok := last["9701"]; !ok || v != nil {
		t.Errorf("9701: %q, want a tombstone", v)
	}
	if string(last["9702"]) != "again" {
		t.Errorf("9702: %q, want the state after its deletion", last["9702"])
	}
	if !IsMarker(MarkerKey("9701")) || last[string(MarkerKey("9701"))] == nil {
		t.Error("no marker for 9701")
	}
}

// The tombstone is a forgotten contact's last record on lead-scores and
// on the changelog, through the real producers, when the deletion shares
// a group of batches with earlier messages of the contact (a batch before
// it) and a batch with earlier events of it: batch 1 scores 9801, 9802
// and 9803; batch 2 has an event of each before its deletion and of 9804,
// then 9803 starts again after its plain deletion (its message must come
// after the tombstone), and batch 3 an event of 9801 after its privacy
// deletion (dropped).
func TestTombstoneLastInAGroup(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	if err := stream.EnsureTopics(ctxFor(t, 30*time.Second), brokers,
		stream.Topic{Name: "states", Partitions: partitions, Compacted: true},
		stream.Topic{Name: "lead-scores", Partitions: partitions, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	engine := testEngine(t)
	scores, states := producer(t, brokers, "lead-scores"), producer(t, brokers, "states")
	p := NewProcessor(Config{Scores: scores, States: states, Log: zerolog.Nop()}, engine)
	part := &partition{id: 1, engine: engine, scorer: scoring.NewScorer(engine), contacts: map[string]*scoring.Contact{}}
	at := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	ev := func(contact, typ string, minutes int) stream.Record {
		n++
		data, _ := json.Marshal(events.Event{ID: fmt.Sprintf("t-%d", n), Type: typ, ContactID: contact,
			OccurredAt: at.Add(time.Duration(minutes) * time.Minute), Properties: map[string]any{"form": "demo_request"}})
		return stream.Message(contact, data)
	}
	var group []*pending
	for _, msgs := range [][]stream.Record{
		{ev("9801", "call_started", 0), ev("9802", "meeting_booked", 0), ev("9803", "form_submitted", 0), ev("9803", "meeting_booked", 1)},
		{ev("9801", "form_submitted", 2), ev("9802", "meeting_booked", 2), ev("9803", "call_started", 2), ev("9804", "meeting_booked", 2),
			ev("9801", TypePrivacyDeleted, 3), ev("9802", TypeContactDeleted, 3), ev("9803", TypeContactDeleted, 3),
			ev("9803", "meeting_booked", 4)},
		{ev("9801", "meeting_booked", 5), ev("9804", "form_submitted", 5)},
	} {
		pd := &pending{batch: batch{dirty: map[*scoring.Contact]string{}}}
		p.scoreBatch(part, msgs, &pd.batch)
		pd.stateMsgs = part.encodeStates(pd.dirty, &stateBuf{})
		group = append(group, pd)
	}
	ctx := ctxFor(t, 30*time.Second)
	if err := write(ctx, scores, gather(group, func(pd *pending) []stream.Record { return pd.scores })); err != nil {
		t.Fatal(err)
	}
	if err := states.WritePartition(ctx, part.id, changelogMsgs(group)...); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"lead-scores", "states"} {
		last := latest(t, brokers, topic)
		for _, c := range []string{"9801", "9802"} {
			if v, ok := last[c]; !ok || v != nil {
				t.Errorf("%s: latest for %s is %q, want a tombstone", topic, c, v)
			}
		}
		for _, c := range []string{"9803", "9804"} {
			if last[c] == nil {
				t.Errorf("%s: latest for %s is a tombstone or missing, want its message", topic, c)
			}
		}
	}
	if _, ok := part.contacts["9801"]; ok {
		t.Error("9801's event after its privacy deletion started it again")
	}
}

// A privacy deletion reaches the company models: the contact leaves every
// company that holds a view of it (its company, and one it left, which its
// member tracker, saved by an older scorer, does not list), whose
// scores are taken again without it (the reference over the history
// without the contact); the member tracker's and, for a company left with
// no contact, the company state's latest record is a tombstone; no
// company state and no company_scores row names the contact, also after a
// replay of its events and a restart.
func TestPrivacyDeletionLeavesNothingInCompanies(t *testing.T) {
	fe := newForgetEnv(t)
	fe.rules = "../testdata/rules-accounts"
	set, err := rules.Load(fe.rules)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := fe.run(t)
	var all []events.Event
	ev := func(contact, company, role, typ string, minutes int, props map[string]any) events.Event {
		fe.n++
		e := events.Event{ID: fmt.Sprintf("ev-%s-%d", contact, fe.n), Type: typ, ContactID: contact, CompanyID: company,
			OccurredAt: fe.at.Add(time.Duration(minutes) * time.Minute), Properties: props,
			Contact: map[string]any{"email": contact + "@example.com", "job_role": role}}
		fe.send(t, e)
		all = append(all, e)
		return e
	}
	// 9501 and 9502 at acme; 9503 at acme, then at globex alone.
	ev("9501", "acme", "champion", "call_started", 0, call(0))
	ev("9501", "acme", "champion", "meeting_booked", 1, nil)
	ev("9502", "acme", "economic_buyer", "call_started", 2, call(0))
	ev("9503", "acme", "technical_evaluator", "call_started", 3, call(0))
	ev("9503", "globex", "technical_evaluator", "meeting_booked", 4, nil)
	want := func(without ...string) map[string]accounts.Score {
		var kept []events.Event
		for _, e := range all {
			if !slices.Contains(without, e.ContactID) {
				kept = append(kept, e)
			}
		}
		out := map[string]accounts.Score{}
		for _, s := range accounts.Companies(set, kept) {
			out[s.CompanyID] = s
		}
		return out
	}
	// waitCompany waits until the company's score and members are the
	// reference's (absent: the endpoint answers 404).
	waitCompany := func(id string, ref map[string]accounts.Score) {
		t.Helper()
		w, held := ref[id]
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := get(t, base+"/companies/"+id+"/score?model=account_engagement")
			var got CompanyLine
			json.Unmarshal([]byte(body), &got)
			if !held && code == 404 || held && code == 200 && got.Score == rules.Float(w.Score) && len(got.Contacts) == len(w.Contacts) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("company %s: %d %s; want %+v (held %v)", id, code, body, w, held)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	before := want()
	waitCompany("acme", before)
	waitCompany("globex", before)
	ctx := ctxFor(t, 2*time.Minute)
	// Wait for company_scores rows caused by the contacts to forget, so
	// the checks below check something.
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range []string{"9501", "9503"} {
		for rows, _ := fe.store.ContactRows(ctx, c); rows["company_scores"] == 0; rows, _ = fe.store.ContactRows(ctx, c) {
			if time.Now().After(deadline) {
				t.Fatalf("no company_scores row caused by %s before its deletion: the test would check nothing", c)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 9503's tracker as an older scorer saved it, listing no company it
	// left: the deletion must reach acme all the same. Written while the
	// scorer is stopped, and restored when it starts again.
	stop()
	tr, err := accounts.DecodeTracker(latest(t, fe.brokers, "states-members")["9503"])
	if err != nil || !slices.Contains(tr.Reached(), "acme") {
		t.Fatalf("9503's tracker %+v (%v) does not list acme, the company it left: the test would check nothing", tr, err)
	}
	tr.Sent = nil
	if slices.Contains(tr.Reached(), "acme") {
		t.Fatalf("9503's tracker without Sent still lists acme: %+v", tr)
	}
	if err := producer(t, fe.brokers, "states-members").WritePartition(ctx, stream.KeyPartition([]byte("9503"), partitions),
		stream.Message("9503", accounts.AppendTracker(nil, &tr))); err != nil {
		t.Fatal(err)
	}
	if v := latest(t, fe.brokers, "events-companies-state")["acme\x009503"]; v == nil {
		t.Fatal("acme holds no view of 9503 before the deletion: the test would check nothing")
	}
	base, stop = fe.run(t)
	fe.send(t, events.Event{ID: "webhook-9501", Type: TypePrivacyDeleted, ContactID: "9501", OccurredAt: fe.at.Add(5 * time.Minute)},
		events.Event{ID: "webhook-9503", Type: TypePrivacyDeleted, ContactID: "9503", OccurredAt: fe.at.Add(5 * time.Minute)})
	after := want("9501", "9503")
	if after["acme"].Score == before["acme"].Score {
		t.Fatalf("the deletion does not change acme's score (%d): the test would check nothing", after["acme"].Score)
	}
	check := func(when string) {
		t.Helper()
		waitCompany("acme", after)
		waitCompany("globex", after)
		// The company state is saved after its rows are stored and erased.
		deadline := time.Now().Add(30 * time.Second)
		for {
			// Records keyed company NUL contact hold the company's view of
			// each contact; the company's key its standing.
			states := latest(t, fe.brokers, "events-companies-state")
			v, gone := states["globex"]
			var named []string
			for k, v := range states {
				for _, c := range []string{"9501", "9503"} {
					// The erased contacts' markers are all that is kept
					// (companies.go), as on the contacts' changelog.
					if v != nil && !IsMarker([]byte(k)) && (strings.Contains(k, c) || strings.Contains(string(v), c)) {
						named = append(named, fmt.Sprintf("%q", k))
					}
				}
			}
			if states["acme\x009502"] != nil && len(named) == 0 && gone && v == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: company states naming a forgotten contact: %v; acme's view of 9502 %q; globex %q (want a tombstone)",
					when, named, states["acme\x009502"], v)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The company-scores topic's latest messages (top members) name
		// no forgotten contact; a company left with none is a tombstone.
		deadline = time.Now().Add(30 * time.Second)
		for {
			msgs := latest(t, fe.brokers, "company-scores")
			v, gone := msgs["globex"]
			if msgs["acme"] != nil && !strings.Contains(string(msgs["acme"]), "9501") && !strings.Contains(string(msgs["acme"]), "9503") && gone && v == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: company-scores: acme %s; globex %q (want a tombstone)", when, msgs["acme"], v)
			}
			time.Sleep(50 * time.Millisecond)
		}
		trackers := latest(t, fe.brokers, "states-members")
		for _, c := range []string{"9501", "9503"} {
			if v, ok := trackers[c]; !ok || v != nil {
				t.Errorf("%s: member tracker of %s: %q, want a tombstone", when, c, v)
			}
		}
		if trackers["9502"] == nil {
			t.Errorf("%s: 9502's member tracker is gone", when)
		}
		if err := fe.store.WaitMutations(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"9501", "9503"} {
			if rows, err := fe.store.ContactRows(ctx, c); err != nil || rows["company_scores"] != 0 {
				t.Errorf("%s: company_scores rows caused by %s: %v %v", when, c, rows, err)
			}
		}
		if got, ok, err := fe.store.CompanyScore(ctx, "acme", "account_engagement"); err != nil || !ok || got != int64(after["acme"].Score) {
			t.Errorf("%s: acme's latest company_scores row: %d %v %v, want %d", when, got, ok, err, after["acme"].Score)
		}
		if rows, _ := fe.store.ContactRows(ctx, "9502"); rows["company_scores"] == 0 {
			t.Errorf("%s: 9502's company_scores rows were erased", when)
		}
	}
	check("after the deletions")

	// A replay of the forgotten contacts' events, and a restart.
	fe.send(t, all...)
	stop()
	base, stop = fe.run(t)
	fe.send(t, all...)
	ev("9502", "acme", "economic_buyer", "email_opened", 6, nil)
	after = want("9501", "9503")
	check("after a replay and a restart")
	stop()
}
