package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// `state dump --companies-topic` holds the company crossings on the
// crossings topic to accounts.Crossings over the changes each company
// received on the company topic (what kill9-scorer.sh checks after its
// kills): the aggregator's crossings pass; a crossing announced twice with
// other members, one the reference does not give, and one missing fail,
// each counted.
func TestStateDumpChecksCompanyCrossings(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"eng.yaml": "model: eng\ngroups:\n  - {name: call, when: 'event.type == \"call\"', points: 10}\n  - {name: open, when: 'event.type == \"open\"', points: 2}\n",
		"acct.yaml": "model: acct\nlevel: company\nfrom: eng\nmin_contact_score: 5\n" +
			"coverage: {property: job_role, roles: {champion: 15, economic_buyer: 20}}\nthresholds: [{name: warm, score: 40, rearm_below: 20}]\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	sim := accounts.NewSim(engine)
	evs := accounts.History(rand.New(rand.NewPCG(3, 4)), 40, 8, 600)
	for i := range evs {
		sim.Add(&evs[i])
	}
	if len(sim.Crossings) < 3 {
		t.Fatalf("%d company crossings: too few to test with", len(sim.Crossings))
	}

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "states", "crossings", "companies"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	write := func(topic string, recs ...stream.Record) { writeTopic(ctx, t, c.ListenAddrs(), topic, recs...) }
	var changes []stream.Record
	for i := range sim.Received {
		changes = append(changes, stream.Message(sim.Received[i].To, accounts.AppendChange(nil, &sim.Received[i])))
	}
	write("companies", changes...)
	crossing := func(x accounts.Crossing) stream.Record {
		ec := events.Crossing{CrossingID: x.ID, Level: events.LevelCompany, CompanyID: x.CompanyID, ContactID: x.ContactID,
			Model: x.Model, Score: rules.Float(x.Score), Threshold: rules.Float(x.Threshold.At), ThresholdName: x.Threshold.Name,
			CrossedAt: x.At, EventID: x.EventID, RuleVersion: set.Version}
		for _, m := range x.Top {
			ec.Members = append(ec.Members, events.CompanyMember{ContactID: m.ContactID, Score: rules.Float(m.Score), Role: m.Role, OwnerID: m.Owner})
		}
		data, err := json.Marshal(ec)
		if err != nil {
			t.Fatal(err)
		}
		return stream.Message(x.CompanyID, data)
	}
	all := sim.Crossings
	var recs []stream.Record
	for _, x := range all[1:] { // the first is written last, below
		recs = append(recs, crossing(x))
	}
	recs = append(recs, crossing(all[2])) // a replay: the same again
	write("crossings", recs...)

	dump := func() (string, error) {
		var stdout, stderr bytes.Buffer
		err := stateDump([]string{"--brokers", strings.Join(c.ListenAddrs(), ","), "--timeout", "20s", "--topic", "states",
			"--rules", dir, "--crossings-topic", "crossings", "--companies-topic", "companies"}, &stdout, &stderr)
		return stderr.String(), err
	}
	summary := func(stderr string) string {
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "company crossings in crossings") {
				_, after, _ := strings.Cut(l, "): ")
				return after
			}
		}
		return "(no summary line) " + stderr
	}
	n := len(all)
	stderr, err := dump()
	if want := strings.Join([]string{itoa(n) + " expected", "1 missing", "0 unexpected", "0 differing", "0 conflicting"}, ", "); err == nil || summary(stderr) != want {
		t.Errorf("the first crossing missing: %v\n%s\nwant %s", err, summary(stderr), want)
	}
	write("crossings", crossing(all[0]))
	if stderr, err := dump(); err != nil || summary(stderr) != itoa(n)+" expected, 0 missing, 0 unexpected, 0 differing, 0 conflicting" {
		t.Fatalf("the aggregator's crossings: %v\n%s", err, stderr)
	}
	other := all[1]
	other.Top = append([]accounts.ContactScore(nil), other.Top...)
	other.Top[0].Role = "intern"
	stranger := all[1]
	stranger.ID = "not-the-reference"
	write("crossings", crossing(other), crossing(stranger))
	stderr, err = dump()
	if err == nil || summary(stderr) != itoa(n)+" expected, 0 missing, 1 unexpected, 0 differing, 1 conflicting" ||
		!strings.Contains(stderr, "announced twice with different content") || !strings.Contains(stderr, "company crossing not-the-reference") {
		t.Errorf("a conflicting and an unknown crossing: %v\n%s", err, stderr)
	}
}
