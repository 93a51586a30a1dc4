package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// checkCompanyCrossings holds the company crossings on the crossings
// topic to accounts.Crossings over the changes each company received (the
// company topic's order): the same ids, and under each id the reference's
// crossing: score, threshold, causing contact and event, and the top
// members (id, score, role, owner) the bridge chooses from. A crossing
// announced again (a replay) must say the same. It returns how many
// distinct company crossings it checked.
func checkCompanyCrossings(t *testing.T, set *rules.Set, brokers []string, companiesTopic string) int {
	t.Helper()
	received := map[string][]accounts.Change{}
	for _, m := range readTopic(t, brokers, companiesTopic, partitions) {
		ch, err := accounts.DecodeChange(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		received[ch.To] = append(received[ch.To], ch)
	}
	want := map[string]accounts.Crossing{}
	for id, list := range received {
		for _, m := range set.Companies {
			for _, x := range accounts.Crossings(m, id, list) {
				want[x.ID] = x
			}
		}
	}
	got := map[string]bool{}
	bad := 0
	for _, m := range readTopic(t, brokers, "crossings", partitions) {
		x, err := events.DecodeCrossing(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if x.Level != events.LevelCompany {
			continue
		}
		got[x.CrossingID] = true
		w, ok := want[x.CrossingID]
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("company crossing %s (%s/%s by %s's %s) is not the reference's", x.CrossingID, x.CompanyID, x.Model, x.ContactID, x.EventID)
			}
			continue
		}
		if diff := crossingDiff(x, w); diff != "" {
			if bad++; bad <= 5 {
				t.Errorf("company crossing %s: %s", x.CrossingID, diff)
			}
		}
	}
	for id, w := range want {
		if !got[id] {
			if bad++; bad <= 5 {
				t.Errorf("the reference's company crossing %s (%s/%s/%s by %s's %s) was not announced", id, w.CompanyID, w.Model, w.Threshold.Name, w.ContactID, w.EventID)
			}
		}
	}
	if len(want) == 0 {
		t.Error("the reference has no company crossing: the check would check nothing")
	}
	return len(got)
}

// crossingDiff says how a company crossing on the topic differs from the
// reference's, "" when it does not.
func crossingDiff(x events.Crossing, w accounts.Crossing) string {
	if x.CompanyID != w.CompanyID || x.Model != w.Model || x.ThresholdName != w.Threshold.Name ||
		x.Score != rules.Float(w.Score) || x.ContactID != w.ContactID || x.EventID != w.EventID || !x.CrossedAt.Equal(w.At) {
		return fmt.Sprintf("%s/%s/%s score %v by %s's %s at %s; reference %s/%s/%s score %v by %s's %s at %s",
			x.CompanyID, x.Model, x.ThresholdName, x.Score, x.ContactID, x.EventID, x.CrossedAt,
			w.CompanyID, w.Model, w.Threshold.Name, rules.Float(w.Score), w.ContactID, w.EventID, w.At)
	}
	type member struct {
		ID, Role, Owner string
		Score           float64
	}
	var gm, wm []member
	for _, m := range x.Members {
		gm = append(gm, member{m.ContactID, m.Role, m.OwnerID, m.Score})
	}
	for _, m := range w.Top {
		wm = append(wm, member{m.ContactID, m.Role, m.Owner, rules.Float(m.Score)})
	}
	if len(gm) == 0 || !reflect.DeepEqual(gm, wm) {
		return fmt.Sprintf("members %+v, reference %+v", gm, wm)
	}
	return ""
}

// companyInstance is one scorer process's two groups: the contact
// processor (group "scorer") and the company aggregator (group
// "companies"), as `scorer run` runs them side by side.
type companyInstance struct {
	name       string
	agg        *CompanyAggregator
	gs, ga     *stream.GroupConsumer
	cancel     context.CancelFunc
	done       chan error
	handledAgg map[int]bool
}

func startCompanyInstance(t *testing.T, name string, brokers []string, set *rules.Set, engine *scoring.Engine) *companyInstance {
	t.Helper()
	in := &companyInstance{name: name, done: make(chan error, 2)}
	proc := NewProcessor(Config{
		Brokers: brokers, Changelog: "states",
		Crossings: producer(t, brokers, "crossings"), DeadLetters: producer(t, brokers, "dlq"), States: producer(t, brokers, "states"),
		Members: &Members{Brokers: brokers, Changelog: "members", Changes: producer(t, brokers, "companies"), States: producer(t, brokers, "members")},
		Log:     zerolog.Nop(),
	}, engine)
	in.agg = NewCompanyAggregator(CompanyConfig{
		Brokers: brokers, Changelog: "company-states",
		Crossings: producer(t, brokers, "crossings"), States: producer(t, brokers, "company-states"),
		Scores: producer(t, brokers, "company-scores"), Log: zerolog.Nop(),
	}, set)
	group := func(name, topic string, h stream.Handler) *stream.GroupConsumer {
		g, err := stream.NewGroupConsumer(stream.GroupConfig{
			Brokers: brokers, Group: name, Topic: topic, MaxBatch: 97,
			CommitInterval: 50 * time.Millisecond, SessionTimeout: 6 * time.Second,
			HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 2 * time.Second,
		}, h)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	in.gs = group("scorer", "events", proc)
	in.ga = group("companies", "companies", in.agg)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	for _, g := range []*stream.GroupConsumer{in.gs, in.ga} {
		go func() { in.done <- g.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range 2 {
			select {
			case <-in.done:
			case <-time.After(20 * time.Second):
			}
		}
	})
	return in
}

// stop stops both groups gracefully (revoke, commit, leave).
func (in *companyInstance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	for range 2 {
		select {
		case err := <-in.done:
			if err != nil {
				t.Fatalf("instance %s: %v", in.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("instance %s did not stop within 20 s", in.name)
		}
	}
	for range 2 {
		in.done <- nil // for the cleanup
	}
}

// splitBoth holds when the instances split the partitions of both groups:
// each owns some of each, no two own the same, together all.
func splitBoth(ins ...*companyInstance) bool {
	for _, which := range []func(*companyInstance) *stream.GroupConsumer{
		func(in *companyInstance) *stream.GroupConsumer { return in.gs },
		func(in *companyInstance) *stream.GroupConsumer { return in.ga },
	} {
		seen := map[int]bool{}
		for _, in := range ins {
			a := which(in).Assignment()
			if len(a) == 0 {
				return false
			}
			for _, p := range a {
				if seen[p] {
					return false
				}
				seen[p] = true
			}
		}
		if len(seen) != partitions {
			return false
		}
	}
	return true
}

// Two scorer instances split both the contact and the company partitions;
// a third joins and the first leaves while events arrive, so both groups
// rebalance twice. Every company is then held by exactly one running
// instance, with the reference's score, members and coverage, and the
// company crossings are the reference's over what each company received.
func TestCompaniesTwoInstancesSplitBothGroups(t *testing.T) {
	set := accountSet(t)
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	brokers, ctx := accountCluster(t, 4*time.Minute)
	r := rand.New(rand.NewPCG(11, 3))
	evs := accounts.History(r, 150, 25, 3000)
	order := append([]events.Event(nil), evs...)
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	order = append(order, order[:100]...) // replays
	var msgs []stream.Record
	for _, ev := range order {
		data, _ := json.Marshal(ev)
		msgs = append(msgs, stream.Message(ev.ContactID, data))
	}
	produce := func(part []stream.Record) {
		t.Helper()
		if err := producer(t, brokers, "events").Write(ctx, part...); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func() bool, ins ...*companyInstance) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			for _, in := range ins {
				select {
				case err := <-in.done:
					t.Fatalf("waiting for %s: instance %s stopped: %v", what, in.name, err)
				default:
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	caughtUp := func() bool {
		// The company topic grows from the contact group: it is caught up
		// only once the contact group is.
		if ok, err := committedTo(ctx, brokers, "scorer", "events"); err != nil || !ok {
			return false
		}
		ok, err := committedTo(ctx, brokers, "companies", "companies")
		return err == nil && ok
	}

	a := startCompanyInstance(t, "a", brokers, set, engine)
	b := startCompanyInstance(t, "b", brokers, set, engine)
	wait("a and b split both groups", func() bool { return splitBoth(a, b) }, a, b)
	t.Logf("contacts: a %v b %v; companies: a %v b %v", a.gs.Assignment(), b.gs.Assignment(), a.ga.Assignment(), b.ga.Assignment())
	n := len(msgs)
	produce(msgs[:n/2])
	wait("the first half scored and aggregated", caughtUp, a, b)

	cc := startCompanyInstance(t, "c", brokers, set, engine)
	wait("a, b and c split both groups", func() bool { return splitBoth(a, b, cc) }, a, b, cc)
	produce(msgs[n/2 : 3*n/4])
	a.stop(t)
	produce(msgs[3*n/4:])
	wait("b and c split both groups, everything committed", func() bool { return splitBoth(b, cc) && caughtUp() }, b, cc)
	t.Logf("after the moves, contacts: b %v c %v; companies: b %v c %v", b.gs.Assignment(), cc.gs.Assignment(), b.ga.Assignment(), cc.ga.Assignment())

	want := accounts.Companies(set, evs)
	if len(want) == 0 {
		t.Fatal("no companies")
	}
	held := map[string]int{}
	for _, w := range want {
		holders := 0
		for _, in := range []*companyInstance{b, cc} {
			got, ok := in.agg.CompanyScore(w.CompanyID, w.Model)
			if !ok {
				continue
			}
			holders++
			held[in.name]++
			if got.Score != w.Score || !reflect.DeepEqual(got.Coverage, w.Coverage) || !reflect.DeepEqual(got.Contacts, w.Contacts) {
				t.Errorf("instance %s: %s/%s live %v, reference %v", in.name, w.CompanyID, w.Model, rules.Float(got.Score), rules.Float(w.Score))
			}
		}
		if holders != 1 {
			t.Errorf("%s/%s held by %d instances, want 1", w.CompanyID, w.Model, holders)
		}
	}
	if held["b"] == 0 || held["c"] == 0 {
		t.Errorf("companies held: %v; both instances should hold some", held)
	}
	x := checkCompanyCrossings(t, set, brokers, "companies")
	t.Logf("%d (company, model) scores checked (b holds %d, c %d), %d company crossings", len(want), held["b"], held["c"], x)
	b.stop(t)
	cc.stop(t)
}
