package accounts

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const contactModel = `model: eng
groups:
  - {name: call, when: 'event.type == "call"', points: 10}
  - {name: open, when: 'event.type == "open"', points: 2}
  - {name: unsub, when: 'event.type == "unsub"', points: -30}
`

const decayModel = `model: intent
decay: {half_life: 1d}
groups:
  - {name: call, when: 'event.type == "call"', points: 16}
`

// set loads the contact models above and one company model.
func set(t testing.TB, company string) *rules.Set {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string]string{"eng.yaml": contactModel, "intent.yaml": decayModel, "acct.yaml": company} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const acctSum = `model: acct
level: company
from: eng
min_contact_score: 5
coverage: {property: job_role, roles: {champion: 15, economic_buyer: 20}}
thresholds:
  - {name: warm, score: 30, rearm_below: 20}
max_score: 100
`

// e builds an event: "id contact type +Nh [company=X] [role=R]".
func e(spec string) events.Event {
	f := strings.Fields(spec)
	d, err := time.ParseDuration(f[3])
	if err != nil {
		panic(err)
	}
	ev := events.Event{ID: f[0], ContactID: f[1], Type: f[2], OccurredAt: t0.Add(d)}
	for _, kv := range f[4:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "company":
			ev.CompanyID = v
		case "role":
			ev.Contact = map[string]any{"job_role": v}
		case "other":
			ev.Contact = map[string]any{"lifecycle": v}
		}
	}
	return ev
}

func es(specs ...string) []events.Event {
	out := make([]events.Event, len(specs))
	for i, s := range specs {
		out[i] = e(s)
	}
	return out
}

func p(f float64) rules.Points { v, _ := rules.ToPoints(f); return v }

// Each clause of the semantics, pinned.
func TestMembership(t *testing.T) {
	s := set(t, acctSum)
	cases := []struct {
		name    string
		evs     []events.Event
		company string
		role    string
	}{
		{"none named: no company", es("e1 c1 call 1h", "e2 c1 open 2h"), "", ""},
		{"events without company_id do not change it", es("e1 c1 call 1h company=A", "e2 c1 open 2h"), "A", ""},
		{"the latest by occurred_at wins", es("e2 c1 call 2h company=B", "e1 c1 open 1h company=A"), "B", ""},
		{"ties on time go to the larger id", es("e2 c1 call 1h company=B", "e1 c1 open 1h company=A"), "B", ""},
		{"a later event moves it", es("e1 c1 call 1h company=A", "e2 c1 open 5h company=B", "e3 c1 open 6h"), "B", ""},
		{"the role of the latest event carrying it", es("e1 c1 call 1h role=champion", "e2 c1 open 2h role=economic_buyer", "e3 c1 open 3h other=x"), "", "economic_buyer"},
		{"a late event does not take the role back", es("e2 c1 open 2h role=economic_buyer", "e1 c1 call 1h role=champion"), "", "economic_buyer"},
		{"duplicates: the first of an id wins", es("e1 c1 call 1h company=A", "e1 c1 call 1h company=B"), "A", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Members(s, c.evs)["c1"]
			if m.CompanyID != c.company || m.Props["job_role"] != c.role {
				t.Errorf("company %q role %q, want %q %q", m.CompanyID, m.Props["job_role"], c.company, c.role)
			}
			// The tracker, in arrival order, agrees.
			var tr Tracker
			for i := range c.evs {
				if i > 0 && c.evs[i].ID == c.evs[0].ID {
					continue
				}
				tr.Observe(s.RoleProperties(), &c.evs[i])
			}
			if tr.Company.Value != c.company || tr.Props["job_role"].Value != c.role {
				t.Errorf("tracker: company %q role %q", tr.Company.Value, tr.Props["job_role"].Value)
			}
		})
	}
}

// A contact's current score is its from model's score at its own latest
// event, not re-decayed to a later time (another contact's events).
func TestCurrentScoreIsAtTheContactsLatestEvent(t *testing.T) {
	s := set(t, "model: acct\nlevel: company\nfrom: intent\n")
	evs := es("e1 c1 call 0h company=A", "e2 c2 call 48h company=A")
	ms := Members(s, evs)
	if got := ms["c1"].Scores["intent"]; got != p(16) {
		t.Errorf("c1's current score %v, want 16 (at its own latest event; decayed to 48h it would be 4)", rules.Float(got))
	}
	sc := Companies(s, evs)
	if len(sc) != 1 || sc[0].Score != p(32) {
		t.Errorf("company = %+v, want 32", sc)
	}
}

func TestRollupCoverageClamp(t *testing.T) {
	// c1: 20 champion, c2: 12 champion, c3: 2 economic_buyer (below min), c4: 30, other: elsewhere.
	evs := es(
		"a1 c1 call 1h company=A role=champion", "a2 c1 call 2h",
		"b1 c2 call 1h company=A role=champion", "b2 c2 open 2h",
		"d1 c3 open 1h company=A role=economic_buyer",
		"f1 c4 call 1h company=A", "f2 c4 call 2h", "f3 c4 call 3h",
		"g1 c5 call 1h company=B role=economic_buyer",
	)
	cases := []struct {
		name     string
		model    string
		score    float64
		rollup   float64
		coverage []string
	}{
		{"sum of counted + one champion (twice present, counted once); the buyer is below min_contact_score",
			"model: acct\nlevel: company\nfrom: eng\nmin_contact_score: 5\ncoverage: {property: job_role, roles: {champion: 15, economic_buyer: 20}}\n",
			20 + 12 + 30 + 15, 62, []string{"champion"}},
		{"without min_contact_score every member counts",
			"model: acct\nlevel: company\nfrom: eng\ncoverage: {property: job_role, roles: {champion: 15, economic_buyer: 20}}\n",
			64 + 35, 64, []string{"champion", "economic_buyer"}},
		{"max", "model: acct\nlevel: company\nfrom: eng\nrollup: max\n", 30, 30, nil},
		{"avg_top_n: the mean of the top two", "model: acct\nlevel: company\nfrom: eng\nrollup: avg_top_n\ntop_n: 2\n", 25, 25, nil},
		{"avg_top_n with fewer counted than n: their mean, rounded to the micro-point",
			"model: acct\nlevel: company\nfrom: eng\nrollup: avg_top_n\ntop_n: 10\nmin_contact_score: 5\n", 62.0 / 3, 62.0 / 3, nil},
		{"roles not configured earn nothing", "model: acct\nlevel: company\nfrom: eng\ncoverage: {property: job_role, roles: {cfo: 50}}\n", 64, 64, nil},
		{"clamped to max_score", "model: acct\nlevel: company\nfrom: eng\nmax_score: 50\n", 50, 64, nil},
		{"clamped to min_score", "model: acct\nlevel: company\nfrom: eng\nmin_score: 100\n", 100, 64, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := set(t, c.model)
			sc := Companies(s, evs)
			if len(sc) != 2 || sc[0].CompanyID != "A" {
				t.Fatalf("scores = %+v", sc)
			}
			a := sc[0]
			if a.Score != p(c.score) || a.Rollup != p(c.rollup) || !reflect.DeepEqual(a.Coverage, c.coverage) {
				t.Errorf("score %v rollup %v coverage %v, want %v %v %v", rules.Float(a.Score), rules.Float(a.Rollup), a.Coverage, c.score, c.rollup, c.coverage)
			}
			if len(a.Contacts) != 4 || a.Contacts[0].ContactID != "c4" || a.Contacts[3].ContactID != "c3" {
				t.Errorf("contacts = %+v", a.Contacts)
			}
		})
	}
}

// Crossings follow the arm/disarm rule in the order changes are received;
// stale changes are ignored; ids are deterministic.
func TestCrossingsInReceiveOrder(t *testing.T) {
	s := set(t, acctSum)
	m := s.Company("acct")
	ch := func(contact string, seq uint32, company string, score float64, role string, event string) Change {
		mb := Member{ContactID: contact, CompanyID: company, Seq: seq, Scores: map[string]rules.Points{"eng": p(score)}}
		if role != "" {
			mb.Props = map[string]string{"job_role": role}
		}
		return Change{To: "A", Member: mb, EventID: event, At: t0}
	}
	received := []Change{
		ch("c1", 1, "A", 10, "", "x1"),         // 10
		ch("c2", 1, "A", 10, "champion", "y1"), // 35: crosses warm
		ch("c2", 3, "A", 40, "champion", "y3"), // 65: disarmed, nothing
		ch("c2", 2, "A", 0, "", "y2"),          // stale: ignored
		ch("c2", 4, "B", 40, "champion", "y4"), // c2 left: 10, below rearm 20: re-arms
		ch("c1", 2, "A", 30, "", "x2"),         // 30: crosses again
	}
	got := Crossings(m, "A", received)
	if len(got) != 2 || got[0].EventID != "y1" || got[1].EventID != "x2" || got[0].Score != p(35) || got[1].Score != p(30) {
		t.Fatalf("crossings = %+v", got)
	}
	if got[0].ID != CrossingID("A", "acct", "warm", "c2", "y1") || got[0].ID == got[1].ID {
		t.Errorf("ids %s %s", got[0].ID, got[1].ID)
	}
	if len(got[0].Top) != 2 || got[0].Top[0].ContactID != "c1" || got[0].Top[1].Role != "champion" {
		t.Errorf("top = %+v", got[0].Top)
	}
	again := Crossings(m, "A", received)
	if !reflect.DeepEqual(got, again) {
		t.Error("the same stream gave other crossings")
	}
	// The aggregate gives the same, change by change.
	a := NewAggregate("A")
	var live []Crossing
	for i := range received {
		xs, _ := a.Apply(s.Companies, &received[i])
		live = append(live, xs...)
	}
	if !reflect.DeepEqual(got, live) {
		t.Errorf("aggregate crossings %+v", live)
	}
}

// The final company scores depend only on the set of events: any arrival
// order, with duplicates, through the incremental path (scoring, tracker,
// aggregates) gives the reference; and the crossings the aggregates
// announce are the reference's over what each company received.
func TestSimEqualsReferenceUnderShuffles(t *testing.T) {
	s := set(t, acctSum)
	s.Companies = append(s.Companies, set(t, "model: top\nlevel: company\nfrom: intent\nrollup: avg_top_n\ntop_n: 2\nthresholds: [{name: hot, score: 10, rearm_below: 5}]\n").Companies...)
	e, err := scoring.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(30) {
		evs := History(rand.New(rand.NewPCG(seed, 7)), 40, 12, 400)
		want := Companies(s, evs)
		for k := range 3 {
			shuffled := append([]events.Event(nil), evs...)
			r := rand.New(rand.NewPCG(seed, uint64(k)))
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			shuffled = append(shuffled, shuffled[:20]...) // replays
			sim := NewSim(e)
			for i := range shuffled {
				sim.Add(&shuffled[i])
			}
			if got := sim.Scores(); !sameScores(got, want) {
				t.Fatalf("seed %d order %d: sim and reference differ:\n%s", seed, k, diffScores(got, want))
			}
			for _, m := range s.Companies {
				for id := range sim.Aggs {
					ref := Crossings(m, id, sim.Received)
					var live []Crossing
					for _, x := range sim.Crossings {
						if x.CompanyID == id && x.Model == m.Name {
							live = append(live, x)
						}
					}
					if !reflect.DeepEqual(ref, live) {
						t.Fatalf("seed %d company %s model %s: crossings %d vs reference %d", seed, id, m.Name, len(live), len(ref))
					}
				}
			}
		}
	}
}

func sameScores(a, b []Score) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].CompanyID != b[i].CompanyID || a[i].Model != b[i].Model || a[i].Score != b[i].Score ||
			!reflect.DeepEqual(a[i].Coverage, b[i].Coverage) || !reflect.DeepEqual(a[i].Contacts, b[i].Contacts) {
			return false
		}
	}
	return true
}

func diffScores(a, b []Score) string {
	var out []string
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = fmt.Sprintf("%+v", a[i])
		}
		if i < len(b) {
			y = fmt.Sprintf("%+v", b[i])
		}
		if x != y {
			out = append(out, "got  "+x, "want "+y)
		}
	}
	return strings.Join(out, "\n")
}

// A deleted contact leaves every company that holds a view of it (moves
// included), whatever its tracker lists (here, as an older scorer saved
// it, none it left): the scores are the reference over the history without it,
// the crossings those of the reference over what each company received,
// and after a privacy deletion no crossing names the contact or its
// deletion event; a replay of its events brings nothing back.
func TestForgetEqualsReferenceWithoutTheContact(t *testing.T) {
	s := set(t, acctSum)
	s.Companies = append(s.Companies, set(t, "model: top\nlevel: company\nfrom: intent\nrollup: avg_top_n\ntop_n: 2\nthresholds: [{name: hot, score: 10, rearm_below: 5}]\n").Companies...)
	e, err := scoring.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	moved := 0
	for seed := range uint64(20) {
		evs := History(rand.New(rand.NewPCG(seed, 9)), 40, 12, 400)
		sim := NewSim(e)
		for i := range evs {
			sim.Add(&evs[i])
		}
		gone, before := map[string]bool{}, len(sim.Crossings)
		for k, c := range []string{"c001", "c007", "c013"} {
			kind := PrivacyDeleted
			if k == 1 {
				kind = "contact_deleted"
			}
			if n := len(sim.contacts[c].tracker.Reached()); n > 1 {
				moved++
			}
			// As an older scorer saved it: the tracker lists no company
			// the contact left. The deletion reaches them all the same.
			sim.contacts[c].tracker.Sent = nil
			sim.Forget(c, kind, "del-"+c, at)
			gone[c] = true
		}
		// A replay of the contacts forgotten for privacy changes nothing.
		var kept []events.Event
		for _, ev := range evs {
			if !gone[ev.ContactID] {
				kept = append(kept, ev)
			} else if ev.ContactID != "c007" {
				sim.Add(&ev)
			}
		}
		if got, want := sim.Scores(), Companies(s, kept); !sameScores(got, want) {
			t.Fatalf("seed %d: sim and reference without the contacts differ:\n%s", seed, diffScores(got, want))
		}
		for id, a := range sim.Aggs {
			for c := range gone {
				if a.Contacts[c] != nil {
					t.Fatalf("seed %d: company %s still holds %s", seed, id, c)
				}
			}
			for _, m := range s.Companies {
				ref := Crossings(m, id, sim.Received)
				var live []Crossing
				for _, x := range sim.Crossings {
					if x.CompanyID == id && x.Model == m.Name {
						live = append(live, x)
					}
				}
				if !reflect.DeepEqual(ref, live) {
					t.Fatalf("seed %d company %s model %s: crossings %d vs reference %d", seed, id, m.Name, len(live), len(ref))
				}
			}
		}
		for _, x := range sim.Crossings[before:] { // caused by the deletions
			if x.ContactID == "c001" || x.ContactID == "c013" || x.EventID == "del-c001" || x.EventID == "del-c013" {
				t.Fatalf("seed %d: a crossing names a contact forgotten for privacy: %+v", seed, x)
			}
		}
	}
	if moved == 0 {
		t.Fatal("no forgotten contact had moved: the test checks no company left")
	}
	ch := Change{To: "acme", Member: Member{ContactID: "c001"}, Forget: PrivacyDeleted, EventID: "del-c001", At: at}
	if c, ev := ch.Cause(); c != "" || strings.Contains(ev, "c001") {
		t.Errorf("a privacy deletion's cause names the contact: %q %q", c, ev)
	}
}
