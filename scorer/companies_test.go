package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// accountRules: contact models for accounts.History's event types, and
// two company models (one with coverage and a threshold, one avg_top_n).
var accountRules = map[string]string{
	"eng.yaml": `model: eng
groups:
  - {name: call, when: 'event.type == "call"', points: 10}
  - {name: open, when: 'event.type == "open"', points: 2, max: 20}
  - {name: unsub, when: 'event.type == "unsub"', points: -30}
thresholds: [{name: warm, score: 30, rearm_below: 10}]
`,
	"intent.yaml": `model: intent
decay: {half_life: 1d}
groups:
  - {name: call, when: 'event.type == "call"', points: 16}
`,
	"acct.yaml": `model: acct
level: company
from: eng
min_contact_score: 5
coverage: {property: job_role, roles: {champion: 15, economic_buyer: 20}}
thresholds: [{name: warm, score: 60, rearm_below: 40}, {name: hot, score: 120, rearm_below: 90}]
max_score: 300
`,
	"top.yaml": `model: top
level: company
from: intent
rollup: avg_top_n
top_n: 2
threshold: 12
rearm_below: 6
`,
}

func accountSet(t testing.TB) *rules.Set {
	t.Helper()
	dir := t.TempDir()
	for name, src := range accountRules {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// The live aggregator equals the reference: generated histories with many
// companies and contact moves, produced in shuffled orders (with
// replays), through the scorer and the company aggregator on a
// Kafka-protocol cluster, both crashing at random steps of their batches
// and restarting from their changelogs. Final company scores equal
// accounts.Companies over the set of events; the company crossings
// announced are exactly accounts.Crossings over the changes each company
// received, in the order the company topic holds them, under the same ids.
func TestCompanyAggregatorEqualsReference(t *testing.T) {
	set := accountSet(t)
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(2) {
		r := rand.New(rand.NewPCG(seed, 99))
		evs := accounts.History(r, 150, 25, 3000)
		order := append([]events.Event(nil), evs...)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		order = append(order, order[:100]...) // replays
		runAccounts(t, seed, set, engine, evs, order, nil)
	}
}

// Deletions under crashes: the histories of
// TestCompanyAggregatorEqualsReference with privacy deletions of some
// contacts at random places in the order (their events after it, replays
// included, are dropped) and a plain deletion at the end, every step of
// both groups crashing at random. The final company scores equal
// accounts.Companies over the events of the contacts kept; no company
// state, company view or latest company-scores message names a deleted
// contact (the company changelog keeps the markers of those erased).
func TestCompanyAggregatorForgetsUnderCrashes(t *testing.T) {
	set := accountSet(t)
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 99))
		evs := accounts.History(r, 60, 12, 1500)
		order := append([]events.Event(nil), evs...)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		order = append(order, order[:100]...) // replays
		gone := map[string]string{}
		for _, c := range []string{"c001", "c007", "c013", "c042"} {
			at := r.IntN(len(order))
			del := events.Event{ID: "del-" + c, Type: TypePrivacyDeleted, ContactID: c, OccurredAt: evs[0].OccurredAt}
			order = append(order[:at], append([]events.Event{del}, order[at:]...)...)
			gone[c] = TypePrivacyDeleted
		}
		order = append(order, events.Event{ID: "del-c020", Type: TypeContactDeleted, ContactID: "c020",
			OccurredAt: evs[0].OccurredAt.Add(1000 * time.Hour)})
		gone["c020"] = TypeContactDeleted
		var kept []events.Event
		for _, ev := range evs {
			if gone[ev.ContactID] == "" {
				kept = append(kept, ev)
			}
		}
		runAccounts(t, seed, set, engine, kept, order, gone)
	}
}

// accountCluster starts a broker holding the topics of a scorer with
// company models, and a context ending after d.
func accountCluster(t *testing.T, d time.Duration) ([]string, context.Context) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := ctxFor(t, d)
	err = stream.EnsureTopics(ctx, c.ListenAddrs(),
		stream.Topic{Name: "events", Partitions: partitions},
		stream.Topic{Name: "crossings", Partitions: partitions},
		stream.Topic{Name: "dlq", Partitions: 1},
		stream.Topic{Name: "states", Partitions: partitions, Compacted: true},
		stream.Topic{Name: "members", Partitions: partitions, Compacted: true},
		stream.Topic{Name: "companies", Partitions: partitions},
		stream.Topic{Name: "company-states", Partitions: partitions, Compacted: true},
		stream.Topic{Name: "company-scores", Partitions: partitions, Compacted: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	return c.ListenAddrs(), ctx
}

// runAccounts runs order through the scorer and the company aggregator,
// crashing, and holds the outcome to the reference over evs; gone are the
// contacts order deletes (evs holds none of their events).
func runAccounts(t *testing.T, seed uint64, set *rules.Set, engine *scoring.Engine, evs, order []events.Event, gone map[string]string) {
	brokers, ctx := accountCluster(t, 3*time.Minute)
	var msgs []stream.Record
	for _, ev := range order {
		data, _ := json.Marshal(ev)
		msgs = append(msgs, stream.Message(ev.ContactID, data))
	}
	if err := producer(t, brokers, "events").Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	r := rand.New(rand.NewPCG(seed, 5))
	var mu sync.Mutex
	crashes := 0
	crash := func(steps ...string) func(string) error {
		return func(step string) error {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range steps {
				if s == step && r.IntN(25) == 0 {
					crashes++
					return errors.New("injected crash at " + step)
				}
			}
			return nil
		}
	}
	newScorer := func() stream.Handler {
		return NewProcessor(Config{
			Brokers: brokers, Changelog: "states",
			Crossings: producer(t, brokers, "crossings"), DeadLetters: producer(t, brokers, "dlq"), States: producer(t, brokers, "states"),
			Members: &Members{Brokers: brokers, Changelog: "members", Changes: producer(t, brokers, "companies"), States: producer(t, brokers, "members"), Partitions: partitions},
			Log:     zerolog.Nop(),
			fault:   crash("crossings", "company_changes", "members", "state"),
		}, engine)
	}
	var agg *CompanyAggregator
	var aggMu sync.Mutex
	newAggregator := func() stream.Handler {
		a := NewCompanyAggregator(CompanyConfig{
			Brokers: brokers, Changelog: "company-states",
			Crossings: producer(t, brokers, "crossings"), States: producer(t, brokers, "company-states"),
			Scores: producer(t, brokers, "company-scores"),
			Log:    zerolog.Nop(), fault: crash("company_markers", "company_crossings", "company_score_messages", "company_state"),
		}, set)
		aggMu.Lock()
		agg = a
		aggMu.Unlock()
		return a
	}
	scorerDone := runGroup(t, ctx, brokers, "scorer", "events", newScorer, nil)
	aggDone := runGroup(t, ctx, brokers, "companies", "companies", newAggregator, scorerDone)
	<-aggDone

	// Final scores: what the last aggregator holds, and what a new one
	// restores from the changelog, equal the reference.
	want := accounts.Companies(set, evs)
	restored := NewCompanyAggregator(CompanyConfig{Brokers: brokers, Changelog: "company-states", Log: zerolog.Nop()}, set)
	for p := range partitions {
		if err := restored.Assigned(ctx, &stream.Claim{Partition: p, Committed: -2}); err != nil {
			t.Fatal(err)
		}
	}
	agg.mu.Lock() // stopped: its partitions were revoked into retained
	for p, part := range agg.retained {
		agg.parts[p] = part
	}
	agg.mu.Unlock()
	for _, a := range []*CompanyAggregator{agg, restored} {
		n := 0
		for _, w := range want {
			got, ok := a.CompanyScore(w.CompanyID, w.Model)
			if !ok || got.Score != w.Score || !reflect.DeepEqual(got.Coverage, w.Coverage) || !reflect.DeepEqual(got.Contacts, w.Contacts) {
				t.Fatalf("seed %d: %s/%s live %+v, reference %+v", seed, w.CompanyID, w.Model, got, w)
			}
			n++
		}
		if n == 0 {
			t.Fatal("no companies")
		}
	}

	if len(gone) > 0 {
		checkGone(t, brokers, gone, restored, agg)
		if crashes == 0 {
			t.Error("no crash injected")
		}
		t.Logf("seed %d: %d companies x models, %d changes received, %d crashes", seed, len(want), len(readTopic(t, brokers, "companies", partitions)), crashes)
		return
	}

	// Crossings: the reference over what each company received, with
	// the reference's content (score, cause, top members).
	crossed := checkCompanyCrossings(t, set, brokers, "companies")
	checkCompanyScores(t, set, evs, readTopic(t, brokers, "companies", partitions), readTopic(t, brokers, "company-scores", partitions), false)
	if crashes == 0 {
		t.Error("no crash injected")
	}
	t.Logf("seed %d: %d companies x models, %d changes received, %d company crossings, %d crashes", seed, len(want), len(readTopic(t, brokers, "companies", partitions)), crossed, crashes)
}

// checkGone checks that nothing of the deleted contacts is left in the
// aggregators, the company changelog and the company-scores topic's
// latest messages, and that every erased contact has its marker.
func checkGone(t *testing.T, brokers []string, gone map[string]string, aggs ...*CompanyAggregator) {
	t.Helper()
	for _, a := range aggs {
		for _, part := range a.parts {
			for id, agg := range part.aggs {
				for c := range gone {
					if agg.Contacts[c] != nil {
						t.Errorf("company %s holds a view of deleted contact %s", id, c)
					}
				}
			}
			for c := range part.holders {
				if gone[c] != "" {
					t.Errorf("partition %d indexes deleted contact %s", part.id, c)
				}
			}
		}
	}
	markers := map[string]int{}
	states := map[[2]string][]byte{} // (partition, key): the latest value
	for _, m := range readTopic(t, brokers, "company-states", partitions) {
		states[[2]string{fmt.Sprint(m.Partition), string(m.Key)}] = m.Value
	}
	for pk, v := range states {
		k := pk[1]
		if v == nil {
			continue
		}
		if IsMarker([]byte(k)) {
			markers[k[len(markerPrefix):]]++
			continue
		}
		_, contact, _ := strings.Cut(k, "\x00")
		if gone[contact] != "" {
			t.Errorf("company state %q of a deleted contact", k)
		}
	}
	for c, kind := range gone {
		if want := map[bool]int{true: partitions}[kind == TypePrivacyDeleted]; markers[c] != want {
			t.Errorf("%s (%s): %d markers on the company changelog, want %d", c, kind, markers[c], want)
		}
	}
	n := 0
	for k, v := range latest(t, brokers, "company-scores") {
		if v == nil {
			continue
		}
		msg, _, err := companyscores.Decode([]byte(k), v)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msg.Models {
			for _, c := range m.Top {
				if gone[c.ContactID] != "" {
					t.Errorf("company-scores of %s names deleted contact %s", k, c.ContactID)
				}
			}
		}
		n++
	}
	if n == 0 {
		t.Error("no company-scores message")
	}
}

// runGroup runs one consumer group, restarting it after each injected
// crash, until it has committed every message of topic (and, when after
// is given, after that closes). It returns a channel closed when done.
func runGroup(t *testing.T, ctx context.Context, brokers []string, group, topic string, handler func() stream.Handler, after <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			g, err := stream.NewGroupConsumer(stream.GroupConfig{
				Brokers: brokers, Group: group, Topic: topic, MaxBatch: 97,
				CommitInterval: 50 * time.Millisecond, SessionTimeout: 6 * time.Second,
				HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 2 * time.Second,
			}, handler())
			if err != nil {
				t.Error(err)
				return
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- g.Run(runCtx) }()
			for finished := false; !finished; {
				select {
				case err := <-errc:
					cancel()
					if err == nil || !strings.Contains(err.Error(), "injected") {
						t.Errorf("%s stopped: %v", group, err)
						return
					}
					finished = true
				case <-time.After(100 * time.Millisecond):
					if after != nil {
						select {
						case <-after:
						default:
							continue
						}
					}
					if ok, err := committedTo(ctx, brokers, group, topic); err == nil && ok {
						cancel()
						<-errc
						return
					}
				case <-ctx.Done():
					t.Error("timed out")
					cancel()
					return
				}
			}
		}
	}()
	return done
}

func committedTo(ctx context.Context, brokers []string, group, topic string) (bool, error) {
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	return admin.CaughtUp(ctx, group, topic, partitions)
}

// A company changelog written by an older scorer (one JSON record per
// whole company) restores, and the first batch that changes such a company
// writes its every contact's view, before compaction may drop the old
// record; a restore from the records written then gives the same company.
func TestCompanyStateFromAnOlderScorer(t *testing.T) {
	set := accountSet(t)
	old := accounts.NewAggregate("acme")
	for i, role := range []string{"champion", "economic_buyer", "intern"} {
		id := fmt.Sprintf("c%d", i)
		old.Contacts[id] = &accounts.Member{ContactID: id, CompanyID: "acme", Seq: 3,
			Scores: map[string]rules.Points{"eng": 20 * rules.Scale, "intent": 0}, Props: map[string]string{"job_role": role}}
	}
	old.Models["acct"] = &accounts.ModelState{Score: 75 * rules.Scale, Disarmed: []bool{true, false}}
	data, _ := json.Marshal(old)
	part := &companyPart{aggs: map[string]*accounts.Aggregate{}}
	if !part.restore(stream.Record{Key: []byte("acme"), Value: data}) {
		t.Fatal("the older record is unreadable")
	}
	var crossings discard
	var states keep
	a := NewCompanyAggregator(CompanyConfig{Crossings: &crossings, States: &states, Log: zerolog.Nop()}, set)
	a.parts[0] = part
	ch := accounts.Change{To: "acme", Member: accounts.Member{ContactID: "c1", CompanyID: "acme", Seq: 4,
		Scores: map[string]rules.Points{"eng": 30 * rules.Scale}, Props: map[string]string{"job_role": "economic_buyer"}}, EventID: "e4", At: time.Now().UTC()}
	if err := a.Handle(context.Background(), &stream.Claim{}, []stream.Record{stream.Message("acme", accounts.AppendChange(nil, &ch))}); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	again := &companyPart{aggs: map[string]*accounts.Aggregate{}}
	for _, m := range append([]stream.Record{{Key: []byte("acme"), Value: data}}, states.msgs...) {
		keys[string(m.Key)] = true
		if !again.restore(m) {
			t.Fatalf("record %q unreadable", m.Key)
		}
	}
	for _, k := range []string{"acme", "acme\x00c0", "acme\x00c1", "acme\x00c2"} {
		if !keys[k] {
			t.Errorf("no record %q written: %v", k, keys)
		}
	}
	want := part.aggs["acme"]
	got := again.aggs["acme"]
	if got == nil || !reflect.DeepEqual(got.Contacts, want.Contacts) || !reflect.DeepEqual(got.Models, want.Models) {
		t.Errorf("restored %+v, want %+v", got, want)
	}
	if want.Models["acct"].Score == 75*rules.Scale {
		t.Error("the change did not move acme's score: the test checks no standing record")
	}
}

// A privacy deletion and the changes before it, replayed after a crash in
// batches split otherwise: the aggregator first reads them in one batch
// (the contact's change that makes a crossing, another contact's change
// that makes one naming it among the top members, its deletion), crashes
// after publishing the batch's crossings and before saving the companies,
// and a new aggregator replays the changes one batch each. No crossing
// and no company-scores message published once the aggregator has read the
// deletion names the contact; the deletion (one for every company) drops
// it from each company of the partition holding a view of it, the company
// it left too; the changelog keeps of it only its marker.
func TestReplayAfterADeletionNamesNoErasedContact(t *testing.T) {
	set := accountSet(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx := ctxFor(t, 2*time.Minute)
	err = stream.EnsureTopics(ctx, brokers, stream.Topic{Name: "crossings", Partitions: 1},
		stream.Topic{Name: "company-states", Partitions: 1, Compacted: true}, stream.Topic{Name: "company-scores", Partitions: 1, Compacted: true})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var offset int64
	// change is the contact's view (at company) as company to receives it.
	changeTo := func(to, contact, company string, seq uint32, eng int, role string) stream.Record {
		ch := accounts.Change{To: to, Member: accounts.Member{ContactID: contact, CompanyID: company, Seq: seq,
			Scores: map[string]rules.Points{"eng": rules.Points(eng) * rules.Scale}, Props: map[string]string{"job_role": role}},
			EventID: fmt.Sprintf("ev-%s-%d", contact, seq), At: at.Add(time.Duration(offset) * time.Minute)}
		m := stream.Message(to, accounts.AppendChange(nil, &ch))
		m.Offset = offset
		offset++
		return m
	}
	change := func(contact, company string, seq uint32, eng int, role string) stream.Record {
		return changeTo(company, contact, company, seq, eng, role)
	}
	var crash bool
	newAgg := func() *CompanyAggregator {
		a := NewCompanyAggregator(CompanyConfig{
			Brokers: brokers, Changelog: "company-states", States: producer(t, brokers, "company-states"),
			Crossings: producer(t, brokers, "crossings"), Scores: producer(t, brokers, "company-scores"), Log: zerolog.Nop(),
			fault: func(step string) error {
				if crash && step == "company_state" {
					return errors.New("injected crash at " + step)
				}
				return nil
			},
		}, set)
		if err := a.Assigned(ctx, &stream.Claim{Partition: 0, Committed: offset}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	handle := func(a *CompanyAggregator, msgs ...stream.Record) error {
		return a.Handle(ctx, &stream.Claim{Partition: 0}, msgs)
	}
	// x1 at globex, then at acme with y1: acme 20, under every threshold.
	a := newAgg()
	setup := []stream.Record{change("x1", "globex", 1, 10, "intern"), changeTo("globex", "x1", "acme", 2, 10, "intern"),
		change("x1", "acme", 2, 10, "intern"), change("y1", "acme", 1, 10, "intern")}
	if err := handle(a, setup...); err != nil {
		t.Fatal(err)
	}
	if n := len(readTopic(t, brokers, "crossings", 1)); n != 0 {
		t.Fatalf("%d crossings before the deletion: the setup must cross nothing", n)
	}
	scoresBefore := len(readTopic(t, brokers, "company-scores", 1))

	// x1's change crosses acct's warm (50 + 10 + champion 15), y1's
	// crosses hot with x1 among the top members, then x1 is erased.
	committed := offset
	batch := []stream.Record{change("x1", "acme", 3, 50, "champion"), change("y1", "acme", 2, 60, "economic_buyer")}
	del := accounts.Forget("x1", accounts.PrivacyDeleted, "webhook-x1", at.Add(time.Hour))
	d := stream.Record{Value: accounts.AppendChange(nil, &del), Offset: offset}
	offset++
	batch = append(batch, d)
	crash = true
	if err := handle(a, batch...); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("the batch did not crash: %v", err)
	}
	crash = false
	offset = committed
	b := newAgg() // restores from the changelog: what the crash left
	for _, m := range batch {
		if err := handle(b, m); err != nil {
			t.Fatal(err)
		}
	}
	offset = committed + int64(len(batch))

	crossings := readTopic(t, brokers, "crossings", 1)
	if len(crossings) == 0 {
		t.Fatal("no crossing: y1's change should cross acct's warm threshold, the test checks nothing")
	}
	for _, m := range crossings {
		x, err := events.DecodeCrossing(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m.Value), "x1") {
			t.Errorf("a crossing published after x1's deletion names it: %s", m.Value)
		}
		if x.ContactID != "y1" {
			t.Errorf("crossing %s caused by %q, want y1", x.CrossingID, x.ContactID)
		}
	}
	for _, m := range readTopic(t, brokers, "company-scores", 1)[scoresBefore:] {
		if strings.Contains(string(m.Value), "x1") {
			t.Errorf("a company-scores message published after x1's deletion names it: %s", m.Value)
		}
	}
	states := latest1(t, brokers, "company-states")
	for k, v := range states {
		if v != nil && strings.Contains(k+string(v), "x1") && !IsMarker([]byte(k)) {
			t.Errorf("company state %q names x1: %q", k, v)
		}
	}
	for _, k := range []string{"acme\x00x1", "globex\x00x1", "globex"} {
		if v, ok := states[k]; !ok || v != nil {
			t.Errorf("company state %q: %q, want a tombstone", k, v)
		}
	}
	if states[string(MarkerKey("x1"))] == nil {
		t.Error("no marker of x1 on the company changelog")
	}
	want := accounts.Evaluate(set.Company("acct"), "acme", []*accounts.Member{{ContactID: "y1", CompanyID: "acme", Seq: 2,
		Scores: map[string]rules.Points{"eng": 60 * rules.Scale}, Props: map[string]string{"job_role": "economic_buyer"}}})
	if got, ok := b.CompanyScore("acme", "acct"); !ok || got.Score != want.Score || len(got.Contacts) != 1 {
		t.Errorf("acme: %+v, want %+v", got, want)
	}
	if ids := b.CompanyIDs(); !reflect.DeepEqual(ids, []string{"acme"}) {
		t.Errorf("companies held: %v, want acme only (globex held only x1's view)", ids)
	}

	// A change of x1 read after its deletion (a replay upstream) brings
	// nothing back, also after a restore.
	if err := handle(newAgg(), change("x1", "acme", 9, 90, "champion")); err != nil {
		t.Fatal(err)
	}
	if n := len(readTopic(t, brokers, "crossings", 1)); n != len(crossings) {
		t.Errorf("%d crossings after x1's replayed change, want %d", n, len(crossings))
	}
	if v := latest1(t, brokers, "company-states")["acme\x00x1"]; v != nil {
		t.Errorf("x1's replayed change is back in acme: %q", v)
	}
}

// latest1 is latest for a topic of one partition.
func latest1(t *testing.T, brokers []string, topic string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, m := range readTopic(t, brokers, topic, 1) {
		out[string(m.Key)] = m.Value
	}
	return out
}

// calls records a ChangesWriter's calls: "w" for Write, the partition for
// WritePartition, with the keys written.
type calls struct{ log []string }

func (c *calls) Write(_ context.Context, msgs ...stream.Record) error {
	c.add("w", msgs)
	return nil
}

func (c *calls) WritePartition(_ context.Context, p int, msgs ...stream.Record) error {
	c.add(fmt.Sprint(p), msgs)
	return nil
}

func (c *calls) add(to string, msgs []stream.Record) {
	var keys []string
	for _, m := range msgs {
		ch, err := accounts.DecodeChange(m.Value)
		if err != nil {
			keys = append(keys, "malformed")
			continue
		}
		keys = append(keys, string(m.Key)+"/"+ch.ContactID)
	}
	c.log = append(c.log, to+":"+strings.Join(keys, ","))
}

// A contact's deletion goes to every partition of the company topic, also
// for a contact whose member tracker is missing, in order with the changes
// around it; it names the contact's current company when the tracker
// knows it (for an aggregator of an older scorer).
func TestMemberDeletionsGoToEveryPartition(t *testing.T) {
	var w calls
	m := &Members{Changes: &w, Partitions: 3, parts: map[int]map[string]*accounts.Tracker{0: {"c1": {Company: accounts.Keyed{Value: "acme"}}}}}
	var b memberBatch
	ch := accounts.Change{To: "acme", Member: accounts.Member{ContactID: "c0", CompanyID: "acme", Seq: 1}}
	b.changes = append(b.changes, stream.Message("acme", accounts.AppendChange(nil, &ch)))
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	m.forget(0, "c1", TypePrivacyDeleted, "del-c1", at, &b)
	m.forget(0, "c2", TypeContactDeleted, "del-c2", at, &b) // no tracker
	ch.To, ch.CompanyID = "globex", "globex"
	b.changes = append(b.changes, stream.Message("globex", accounts.AppendChange(nil, &ch)))
	if err := m.send(context.Background(), b.changes); err != nil {
		t.Fatal(err)
	}
	want := []string{"w:acme/c0", "0:acme/c1,/c2", "1:acme/c1,/c2", "2:acme/c1,/c2", "w:globex/c0"}
	if !reflect.DeepEqual(w.log, want) {
		t.Errorf("writes %q, want %q", w.log, want)
	}
	if !reflect.DeepEqual(b.gone, []string{"c1"}) || m.parts[0]["c1"] != nil {
		t.Errorf("tracker tombstones %v, trackers %v: want c1's dropped", b.gone, m.parts[0])
	}
	for _, msg := range b.changes[1:3] {
		d, err := decodeChange(&msg)
		if err != nil || d.Forget == "" {
			t.Errorf("deletion %+v: %v", d, err)
		}
	}
	m.Partitions = 0
	if err := m.send(context.Background(), b.changes); err == nil || !strings.Contains(err.Error(), "Partitions") {
		t.Errorf("deletions with no partition count: %v", err)
	}
}
