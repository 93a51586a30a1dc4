package scorer

import (
	"reflect"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// checkCompanyScores holds the company-scores topic to the reference: the
// latest message of every company equals accounts.Companies over the set
// of events (score, rollup, coverage, members, counted, top members) and
// accounts.Standing over the changes the company received (the threshold
// it is past and when it fired); a company whose contacts all left says
// so (no members, the model's score of nothing). With noRepeats (no
// crash), no message repeats its company's previous content.
func checkCompanyScores(t *testing.T, set *rules.Set, evs []events.Event, received []stream.Record, topic []stream.Record, noRepeats bool) {
	t.Helper()
	byCompany := map[string][]accounts.Change{}
	for _, m := range received {
		ch, err := accounts.DecodeChange(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		byCompany[ch.To] = append(byCompany[ch.To], ch)
	}
	latest := map[string]companyscores.Message{}
	repeats := 0
	for _, m := range topic {
		msg, ok, err := companyscores.Decode(m.Key, m.Value)
		if err != nil || !ok {
			t.Fatalf("company-scores message %s: %v (tombstone: %v)", m.Key, err, !ok)
		}
		if prev, seen := latest[msg.CompanyID]; seen && companyscores.Same(&prev, &msg) {
			repeats++
		}
		latest[msg.CompanyID] = msg
	}
	if noRepeats && repeats > 0 {
		t.Errorf("%d company-scores messages repeat their company's previous content", repeats)
	}
	want := map[string]map[string]accounts.Score{}
	for _, s := range accounts.Companies(set, evs) {
		if want[s.CompanyID] == nil {
			want[s.CompanyID] = map[string]accounts.Score{}
		}
		want[s.CompanyID][s.Model] = s
	}
	for id := range want {
		if _, ok := latest[id]; !ok {
			t.Errorf("company %s has members but no company-scores message", id)
		}
	}
	checked := 0
	for id, msg := range latest {
		if msg.RuleVersion != set.Version || len(msg.Models) != len(set.Companies) {
			t.Errorf("%s: rule version %s, %d models", id, msg.RuleVersion, len(msg.Models))
		}
		for _, cm := range set.Companies {
			ref, ok := want[id][cm.Name]
			if !ok {
				ref = accounts.Evaluate(cm, id, nil)
			}
			exp := companyscores.Model{Score: rules.Float(ref.Score), Rollup: rules.Float(ref.Rollup), Coverage: append([]string{}, ref.Coverage...),
				Members: len(ref.Contacts), Top: []companyscores.Contact{}}
			for _, c := range ref.Contacts {
				if c.Counted {
					exp.Counted++
				}
			}
			for _, c := range accounts.Top(ref) {
				exp.Top = append(exp.Top, companyscores.Contact{ContactID: c.ContactID, Score: rules.Float(c.Score), Role: c.Role})
			}
			st := accounts.Standing(cm, id, byCompany[id])
			if k, at, ok := st.Past(); ok {
				name, when := cm.Thresholds[k].Name, time.Unix(0, at).UTC()
				exp.Threshold, exp.CrossedAt = &name, &when
			}
			got := msg.Models[cm.Name]
			if !reflect.DeepEqual(got.Coverage, exp.Coverage) || !reflect.DeepEqual(got.Top, exp.Top) ||
				!companyscores.Same(&companyscores.Message{Models: map[string]companyscores.Model{"m": got}}, &companyscores.Message{Models: map[string]companyscores.Model{"m": exp}}) {
				t.Fatalf("company %s, model %s: topic %+v, reference %+v (threshold %v at %v)", id, cm.Name, got, exp, deref(exp.Threshold), exp.CrossedAt)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no company-scores message")
	}
	t.Logf("company-scores: %d companies x models equal the reference, %d messages (%d repeating a previous content)", checked, len(topic), repeats)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
