package scoring

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ev builds an event: "id type +Nh [prop=value ...]".
func ev(spec string) events.Event {
	f := strings.Fields(spec)
	d, err := time.ParseDuration(f[2])
	if err != nil {
		panic(err)
	}
	e := events.Event{ID: f[0], Type: f[1], ContactID: "c1", OccurredAt: t0.Add(d), Properties: map[string]any{}}
	for _, kv := range f[3:] {
		k, v, _ := strings.Cut(kv, "=")
		var num float64
		if _, err := fmt.Sscan(v, &num); err == nil {
			e.Properties[k] = num
		} else {
			e.Properties[k] = v
		}
	}
	return e
}

func evs(specs ...string) []events.Event {
	out := make([]events.Event, len(specs))
	for i, s := range specs {
		out[i] = ev(s)
	}
	return out
}

func model(t *testing.T, yaml string) *rules.Model {
	t.Helper()
	m, err := rules.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	return m
}

func pts(f float64) rules.Points { p, _ := rules.ToPoints(f); return p }

// incremental scores evs one by one into a fresh Contact and returns the
// score at T and the group sums.
func incremental(t *testing.T, m *rules.Model, list []events.Event, T time.Time) (rules.Points, map[string]rules.Points) {
	t.Helper()
	e, err := NewEngine(&rules.Set{Models: []*rules.Model{m}})
	if err != nil {
		t.Fatal(err)
	}
	s := NewScorer(e)
	s.AsOf = T.UnixNano()
	var c Contact
	for i := range list {
		s.Apply(&c, &list[i])
	}
	groups := map[string]rules.Points{}
	s.GroupSums(&c, 0, T.UnixNano(), func(g int, sum rules.Points) { groups[m.Groups[g].Name] = sum })
	return s.Score(&c, 0, T.UnixNano()), groups
}

const classic = `
model: engagement
max_score: 100
min_score: 0
groups:
  - {name: call, when: 'event.type == "call_started" && event.properties.duration_s >= 60', points: 15, max: 30}
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 10}
  - {name: open, when: 'event.type == "email_opened"', points: 2, max: 4}
  - {name: unsub, when: 'event.type == "unsubscribed"', points: -25, min: -30}
`

func TestSemantics(t *testing.T) {
	cases := []struct {
		name   string
		rules  string
		events []events.Event
		T      time.Duration
		score  float64
		groups map[string]float64
		errors int
	}{
		{"points add up", classic, evs("a call_started 1h duration_s=90", "b meeting_booked 2h", "c email_opened 3h"),
			10 * time.Hour, 27, map[string]float64{"call": 15, "meeting": 10, "open": 2}, 0},
		{"1. a duplicate id is ignored whatever its content, the first wins", classic,
			evs("a meeting_booked 1h", "a call_started 2h duration_s=900"), 10 * time.Hour, 10, map[string]float64{"meeting": 10}, 0},
		{"1. events after T do not count", classic, evs("a meeting_booked 1h", "b meeting_booked 5h"),
			3 * time.Hour, 10, map[string]float64{"meeting": 10}, 0},
		{"1. an event exactly at T counts", classic, evs("a meeting_booked 3h"), 3 * time.Hour, 10, map[string]float64{"meeting": 10}, 0},
		{"2. a runtime error is no match, counted and reported", classic,
			evs("a call_started 1h", "b call_started 2h duration_s=61"), 10 * time.Hour, 15, map[string]float64{"call": 15}, 1},
		{"2. a false condition is no match", classic, evs("a call_started 1h duration_s=59"), 10 * time.Hour, 0, map[string]float64{}, 0},
		{"2. not repeatable: only the earliest match counts", `
model: m
groups:
  - {name: demo, when: 'event.type == "form_submitted"', points: "event.properties.p", repeatable: false}`,
			evs("b form_submitted 2h p=5", "a form_submitted 3h p=7", "c form_submitted 1h p=3"), 10 * time.Hour, 3, map[string]float64{"demo": 3}, 0},
		{"2. not repeatable: a tie on time goes to the smaller id", `
model: m
groups:
  - {name: demo, when: 'event.type == "form_submitted"', points: "event.properties.p", repeatable: false}`,
			evs("b form_submitted 1h p=5", "a form_submitted 1h p=7"), 10 * time.Hour, 7, map[string]float64{"demo": 7}, 0},
		{"2. not repeatable then window: an earliest match outside the window leaves nothing", `
model: m
groups:
  - {name: demo, when: 'event.type == "form_submitted"', points: 20, repeatable: false, window: 1d}`,
			evs("a form_submitted 1h", "b form_submitted 47h"), 48 * time.Hour, 0, map[string]float64{}, 0},
		{"2. window: only events with occurred_at > T - W (one exactly at T - W is out)", `
model: m
groups:
  - {name: open, when: 'event.type == "email_opened"', points: 2, window: 1d}`,
			evs("a email_opened 0h", "b email_opened 1h", "c email_opened 24h"), 25 * time.Hour, 2, map[string]float64{"open": 2}, 0},
		{"3. decay halves a contribution every half-life", `
model: m
decay: {half_life: 1d}
groups:
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 16}`,
			evs("a meeting_booked 0h", "b meeting_booked 24h", "c meeting_booked 48h"), 48 * time.Hour, 28, map[string]float64{"meeting": 28}, 0},
		{"3. decay rounds each contribution to a micro-point", `
model: m
decay: {half_life: 3h}
groups:
  - {name: g, when: 'true', points: 1}`,
			evs("a x 0h"), 1 * time.Hour, 0.793701, map[string]float64{"g": 0.793701}, 0},
		{"4. a group sum is capped at max", classic, evs("a email_opened 1h", "b email_opened 2h", "c email_opened 3h"),
			5 * time.Hour, 4, map[string]float64{"open": 4}, 0},
		{"4. a group sum is floored at min and the total at min_score", classic,
			evs("a unsubscribed 1h", "b unsubscribed 2h", "c meeting_booked 3h"), 5 * time.Hour, 0, map[string]float64{"unsub": -30, "meeting": 10}, 0},
		{"4. the total is capped at max_score", `
model: m
max_score: 25
groups:
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 10}`,
			evs("a meeting_booked 1h", "b meeting_booked 2h", "c meeting_booked 3h"), 5 * time.Hour, 25, map[string]float64{"meeting": 30}, 0},
		{"points may be negative and fractional", `
model: m
groups:
  - {name: g, when: 'event.type == "x"', points: -1.5}`,
			evs("a x 1h", "b x 2h"), 5 * time.Hour, -3, map[string]float64{"g": -3}, 0},
		{"a group with no derivable type sees every event type", `
model: m
groups:
  - {name: any, when: 'event.properties.v > 1', points: 1}
  - {name: typed, when: 'event.type == "x"', points: 10}`,
			evs("a x 1h v=2", "b never_named 2h v=5", "c y 3h v=0"), 5 * time.Hour, 12, map[string]float64{"any": 2, "typed": 10}, 0},
		{"contact properties are visible", `
model: m
groups:
  - {name: competitor, when: 'contact.email endsWith "@competitor.com"', points: -100, repeatable: false}`,
			func() []events.Event {
				l := evs("a x 1h", "b x 2h")
				l[1].Contact = map[string]any{"email": "x@competitor.com"}
				return l
			}(), 5 * time.Hour, -100, map[string]float64{"competitor": -100}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := model(t, tc.rules)
			T := t0.Add(tc.T)
			b := Evaluate(m, tc.events, T)
			if b.Score != pts(tc.score) {
				t.Errorf("Evaluate score = %s, want %v", rules.FormatPoints(b.Score), tc.score)
			}
			got := map[string]rules.Points{}
			var sum rules.Points
			for _, g := range b.Groups {
				if len(g.Counted) > 0 {
					got[g.Name] = g.Sum
				}
				var raw rules.Points
				for _, c := range g.Counted {
					raw += c.Value
				}
				if raw != g.Raw {
					t.Errorf("group %s: contributions add to %d, raw %d", g.Name, raw, g.Raw)
				}
				sum += g.Sum
			}
			if sum != b.Raw || m.Clamp(b.Raw) != b.Score {
				t.Errorf("breakdown does not add up: groups %d raw %d score %d", sum, b.Raw, b.Score)
			}
			want := map[string]rules.Points{}
			for k, v := range tc.groups {
				want[k] = pts(v)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Evaluate groups = %v, want %v", got, want)
			}
			if len(b.Errors) != tc.errors {
				t.Errorf("errors = %v, want %d", b.Errors, tc.errors)
			}
			score, groups := incremental(t, m, tc.events, T)
			if score != b.Score || fmt.Sprint(groups) != fmt.Sprint(got) {
				t.Errorf("incremental = %d %v, Evaluate = %d %v", score, groups, b.Score, got)
			}
		})
	}
}

func TestRuntimeErrorIsNamed(t *testing.T) {
	m := model(t, classic)
	b := Evaluate(m, evs("e-17 call_started 1h"), t0.Add(time.Hour))
	if len(b.Errors) != 1 {
		t.Fatalf("errors = %v", b.Errors)
	}
	e := b.Errors[0]
	if e.EventID != "e-17" || e.Group != "call" || e.Model != "engagement" || e.Err == nil || errors.Unwrap(e) != nil && false {
		t.Errorf("error does not name its place: %+v", e)
	}
	if !strings.Contains(e.Error(), "e-17") || !strings.Contains(e.Error(), "call") {
		t.Errorf("message %q lacks event or group", e.Error())
	}
}

// A rule that grows with the event (issue 12 item 3, in the form that
// passes the load) costs that event its match in that group, counted as a
// runtime error; the other groups and events score as usual.
func TestGrowthIsARuntimeErrorForThatEvent(t *testing.T) {
	m := model(t, `
model: m
groups:
  - {name: grow, when: 'len(reduce(1..40, #acc + #acc, event.properties.s)) > 0', points: 5}
  - {name: call, when: 'event.type == "call"', points: 3}
`)
	b := Evaluate(m, evs("e1 call 1h s=ab", "e2 call 2h s=cd", "e3 call 3h"), t0.Add(4*time.Hour))
	if b.Score != pts(9) {
		t.Errorf("score %v, want 9 (three calls)", rules.FormatPoints(b.Score))
	}
	grew := 0
	for _, e := range b.Errors {
		if e.Group == "grow" && strings.Contains(e.Error(), "strings of") {
			grew++
		}
	}
	if grew != 2 {
		t.Errorf("errors %v: want the two events with s to meet the string bound", b.Errors)
	}
}

const crossingRules = `
model: m
threshold: 20
rearm_below: 10
groups:
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 10, window: 2d}
  - {name: unsub, when: 'event.type == "unsubscribed"', points: -15}
`

func TestCrossings(t *testing.T) {
	cases := []struct {
		name   string
		rules  string
		events []events.Event
		want   []string // "event-id threshold"
	}{
		{"start armed, cross once, stay disarmed while above", crossingRules,
			evs("a meeting_booked 1h", "b meeting_booked 2h", "c meeting_booked 3h"), []string{"b default"}},
		{"no crossing below the threshold", crossingRules, evs("a meeting_booked 1h"), nil},
		{"between threshold and rearm_below: stays disarmed", crossingRules,
			evs("a meeting_booked 1h", "b meeting_booked 2h", "c meeting_booked 3h", "u unsubscribed 4h", "d meeting_booked 5h"),
			[]string{"b default"}},
		{"below rearm_below re-arms, a new crossing follows", crossingRules,
			evs("a meeting_booked 1h", "b meeting_booked 2h", "u unsubscribed 3h", "v unsubscribed 4h",
				"c meeting_booked 5h", "d meeting_booked 6h", "e meeting_booked 7h", "f meeting_booked 8h", "g meeting_booked 9h"),
			[]string{"b default", "e default"}},
		{"a window expiring re-arms at the next event", crossingRules,
			evs("a meeting_booked 0h", "b meeting_booked 1h", "x page_viewed 60h", "c meeting_booked 61h", "d meeting_booked 62h"),
			[]string{"b default", "d default"}},
		{"rearm_below defaults to the threshold", `
model: m
threshold: 10
groups:
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 10, window: 1d}`,
			evs("a meeting_booked 0h", "x page_viewed 30h", "b meeting_booked 31h"), []string{"a default", "b default"}},
		{"several thresholds fire on their own", `
model: m
thresholds:
  - {name: sales, score: 30, rearm_below: 20}
  - {name: nurture, score: 10}
groups:
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 10}`,
			evs("a meeting_booked 0h", "b meeting_booked 1h", "c meeting_booked 2h"), []string{"a nurture", "c sales"}},
		{"events are walked in (occurred_at, id) order whatever the input order", crossingRules,
			evs("c meeting_booked 3h", "b meeting_booked 2h", "a meeting_booked 1h"), []string{"b default"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := model(t, tc.rules)
			var got []string
			for _, c := range EvaluateCrossings(m, tc.events) {
				got = append(got, c.EventID+" "+c.Threshold.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("EvaluateCrossings = %v, want %v", got, tc.want)
			}
			// The incremental scorer over the sorted stream gives the same.
			sorted := Dedup(tc.events)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(&sorted[j]) })
			e, _ := NewEngine(&rules.Set{Models: []*rules.Model{m}})
			s := NewScorer(e)
			var c Contact
			var inc []string
			for i := range sorted {
				for _, h := range s.Apply(&c, &sorted[i]).Hits {
					inc = append(inc, sorted[i].ID+" "+m.Thresholds[h.Threshold].Name)
				}
			}
			if fmt.Sprint(inc) != fmt.Sprint(tc.want) {
				t.Errorf("incremental crossings = %v, want %v", inc, tc.want)
			}
		})
	}
}

// TestSearchHashes holds the guessing search to slices.BinarySearch, for
// hashes spread evenly and bunched at the ends, present and absent.
func TestSearchHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n += 1 + n/8 {
		for trial := 0; trial < 20; trial++ {
			s := make([]uint64, n)
			for i := range s {
				switch trial % 3 {
				case 0:
					s[i] = rng.Uint64()
				case 1:
					s[i] = rng.Uint64N(1000) // all near the bottom
				default:
					s[i] = math.MaxUint64 - rng.Uint64N(1000) // all near the top
				}
			}
			slices.Sort(s)
			s = slices.Compact(s)
			probes := []uint64{0, 1, math.MaxUint64, rng.Uint64()}
			for _, v := range s {
				probes = append(probes, v, v-1, v+1)
			}
			for _, h := range probes {
				wi, wf := slices.BinarySearch(s, h)
				if gi, gf := searchHashes(s, h); gi != wi || gf != wf {
					t.Fatalf("n=%d trial %d: searchHashes(%d) = %d,%v; want %d,%v", len(s), trial, h, gi, gf, wi, wf)
				}
			}
		}
	}
}
