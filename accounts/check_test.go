package accounts

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// announced is the crossing the aggregator would put on the crossings
// topic for x.
func announced(x Crossing) events.Crossing {
	ec := events.Crossing{CrossingID: x.ID, Level: events.LevelCompany, CompanyID: x.CompanyID, ContactID: x.ContactID,
		Model: x.Model, Score: rules.Float(x.Score), Threshold: rules.Float(x.Threshold.At), ThresholdName: x.Threshold.Name,
		CrossedAt: x.At, EventID: x.EventID}
	for _, m := range x.Top {
		ec.Members = append(ec.Members, events.CompanyMember{ContactID: m.ContactID, Score: rules.Float(m.Score), Role: m.Role, OwnerID: m.Owner})
	}
	return ec
}

// A CrossingCheck passes the simulated aggregator's crossings, replays
// included, and names each kind of difference: one missing, one not the
// reference's, one with another score, one announced twice with different
// content, a change it cannot read, and contact crossings are not its.
func TestCrossingCheck(t *testing.T) {
	s := set(t, acctSum)
	e, err := scoring.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	sim := NewSim(e)
	evs := History(rand.New(rand.NewPCG(3, 4)), 40, 8, 600)
	for i := range evs {
		sim.Add(&evs[i])
	}
	if len(sim.Crossings) < 4 {
		t.Fatalf("%d company crossings: too few to test with", len(sim.Crossings))
	}
	feed := func(c *CrossingCheck) {
		for i := range sim.Received {
			c.Change(len(sim.Received[i].To)%3, AppendChange(nil, &sim.Received[i]))
		}
	}

	good := NewCrossingCheck(s)
	feed(good)
	for _, x := range sim.Crossings {
		good.Crossing(announced(x))
	}
	good.Crossing(announced(sim.Crossings[1])) // a replay says the same again
	good.Crossing(events.Crossing{CrossingID: "contact-one", ContactID: "c1", Model: "eng"})
	if r := good.Result(); !r.OK() || r.Expected != len(sim.Crossings) || r.Companies != len(sim.Aggs) {
		t.Fatalf("the aggregator's own crossings: %+v", r)
	}

	bad := NewCrossingCheck(s)
	feed(bad)
	bad.Change(0, []byte("not a change"))
	for _, x := range sim.Crossings[1:] {
		bad.Crossing(announced(x))
	}
	other := announced(sim.Crossings[2])
	other.Score++
	bad.Crossing(other) // the same id, other content
	wrong := announced(sim.Crossings[3])
	wrong.CrossingID = "not-the-reference"
	bad.Crossing(wrong)
	r := bad.Result()
	if r.OK() || r.Malformed != 1 || r.Missing != 1 || r.Unexpected != 1 || r.Conflicting != 1 || r.Differing != 0 {
		t.Fatalf("counts: %+v", r)
	}
	text := strings.Join(r.Examples, "\n")
	for _, want := range []string{"announced twice with different content", "not-the-reference", sim.Crossings[0].ID + " (" + sim.Crossings[0].CompanyID} {
		if !strings.Contains(text, want) {
			t.Errorf("examples name no %q:\n%s", want, text)
		}
	}

	differs := NewCrossingCheck(s)
	feed(differs)
	first := announced(sim.Crossings[0])
	first.Score++
	differs.Crossing(first)
	if r := differs.Result(); r.Differing != 1 || r.Missing != len(sim.Crossings)-1 {
		t.Fatalf("a crossing with another score: %+v", r)
	}
}
