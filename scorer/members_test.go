package scorer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// With company models, a contact crossing names the contact's company by
// membership (its latest event naming one), not the causing event's
// company_id: an event without one, or a late one naming a company the
// contact has left, would otherwise give the bridge no company or the
// wrong one, and company_exclusive ("never two active sequences in one
// company") would not hold for that contact.
func TestContactCrossingNamesTheMembersCompany(t *testing.T) {
	set := accountSet(t)
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	brokers, ctx := accountCluster(t, time.Minute)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ev := func(id, contact, company string, h int) events.Event {
		return events.Event{ID: id, ContactID: contact, Type: "call", CompanyID: company, OccurredAt: t0.Add(time.Duration(h) * time.Hour)}
	}
	// eng: a call is 10 points, warm at 30. c1 names A once, then crosses
	// on an event naming none; c2 belongs to B (its latest event naming a
	// company), and crosses on a late event naming C; c3 never names one.
	history := []events.Event{
		ev("a1", "c1", "A", 1), ev("a2", "c1", "", 2), ev("a3", "c1", "", 3),
		ev("b1", "c2", "B", 9), ev("b2", "c2", "C", 1), ev("b3", "c2", "C", 2),
		ev("d1", "c3", "", 1), ev("d2", "c3", "", 2), ev("d3", "c3", "", 3),
	}
	var msgs []stream.Record
	for _, e := range history {
		data, _ := json.Marshal(e)
		msgs = append(msgs, stream.Message(e.ContactID, data))
	}
	if err := producer(t, brokers, "events").Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	newScorer := func() stream.Handler {
		return NewProcessor(Config{
			Brokers: brokers, Changelog: "states",
			Crossings: producer(t, brokers, "crossings"), DeadLetters: producer(t, brokers, "dlq"), States: producer(t, brokers, "states"),
			Members: &Members{Brokers: brokers, Changelog: "members", Changes: producer(t, brokers, "companies"), States: producer(t, brokers, "members")},
			Log:     zerolog.Nop(),
		}, engine)
	}
	<-runGroup(t, ctx, brokers, "scorer", "events", newScorer, nil)

	// The membership the reference gives is what the crossings name.
	members := accounts.Members(set, history)
	want := map[string]string{"c1": "A", "c2": "B", "c3": ""}
	for id, company := range want {
		if got := members[id].CompanyID; got != company {
			t.Fatalf("reference membership of %s = %q, the test expects %q", id, got, company)
		}
	}
	got := map[string]string{}
	for _, m := range readTopic(t, brokers, "crossings", partitions) {
		x, err := events.DecodeCrossing(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if x.Level == events.LevelCompany || x.Model != "eng" {
			continue
		}
		if _, dup := got[x.ContactID]; dup {
			t.Errorf("%s crossed eng twice", x.ContactID)
		}
		got[x.ContactID] = x.CompanyID
	}
	if len(got) != len(want) {
		t.Fatalf("eng crossings of %v, want one each of %v", got, want)
	}
	for id, company := range want {
		if got[id] != company {
			t.Errorf("%s's crossing names company %q, its membership is %q", id, got[id], company)
		}
	}
}
