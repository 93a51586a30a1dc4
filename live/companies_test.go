package live

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
		runAccounts(t, seed, set, engine, evs, order)
	}
}

func runAccounts(t *testing.T, seed uint64, set *rules.Set, engine *scoring.Engine, evs, order []events.Event) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx := ctxFor(t, 3*time.Minute)
	err = stream.EnsureTopics(ctx, brokers,
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
			Members: &Members{Brokers: brokers, Changelog: "members", Changes: producer(t, brokers, "companies"), States: producer(t, brokers, "members")},
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
			Log:    zerolog.Nop(), fault: crash("company_crossings", "company_score_messages", "company_state"),
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

	// Crossings: the reference over what each company received, with
	// the reference's content (score, cause, top members).
	crossed := checkCompanyCrossings(t, set, brokers, "companies")
	checkCompanyScores(t, set, evs, readTopic(t, brokers, "companies", partitions), readTopic(t, brokers, "company-scores", partitions), false)
	if crashes == 0 {
		t.Error("no crash injected")
	}
	t.Logf("seed %d: %d companies x models, %d changes received, %d company crossings, %d crashes", seed, len(want), len(readTopic(t, brokers, "companies", partitions)), crossed, crashes)
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
