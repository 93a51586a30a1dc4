package accounts

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/rules"
)

// incrementalModels are a company model of each rollup, rolling up one
// contact model, with coverage, thresholds and a clamp: the running
// rollups must give exactly what Evaluate gives for each.
func incrementalModels() []*rules.CompanyModel {
	maxScore, minScore := p(60), p(-5)
	cov := &rules.Coverage{Property: "job_role", Roles: map[string]rules.Points{"champion": p(15), "economic_buyer": p(20)}}
	ths := []rules.Threshold{{Name: "warm", At: p(20), RearmBelow: p(10)}, {Name: "hot", At: p(40), RearmBelow: p(30)}}
	return []*rules.CompanyModel{
		{Name: "sum", From: "eng", Rollup: rules.RollupSum, MinContactScore: p(5), Coverage: cov, Thresholds: ths, MaxScore: &maxScore},
		{Name: "max", From: "eng", Rollup: rules.RollupMax, MinContactScore: p(-3), Coverage: cov, Thresholds: ths},
		{Name: "avg", From: "eng", Rollup: rules.RollupAvgTopN, TopN: 3, MinContactScore: p(2), Thresholds: ths, MinScore: &minScore},
		{Name: "avg1", From: "eng", Rollup: rules.RollupAvgTopN, TopN: 1, MinContactScore: p(0), Coverage: cov},
	}
}

// randomChanges are changes a company "A" receives: contacts joining,
// leaving for "B" or no company, scores moving (ties, negatives, below and
// above min_contact_score), roles changing, stale and repeated changes,
// and deletions.
func randomChanges(r *rand.Rand, n int) []Change {
	seq := map[string]uint32{}
	roles := []string{"champion", "economic_buyer", "intern", ""}
	out := make([]Change, 0, n)
	for i := range n {
		id := fmt.Sprintf("c%02d", r.IntN(30))
		at := t0.Add(time.Duration(i) * time.Minute)
		if r.IntN(12) == 0 {
			out = append(out, Change{To: "A", Member: Member{ContactID: id}, Forget: "contact_deleted", EventID: fmt.Sprintf("d%d", i), At: at})
			delete(seq, id)
			continue
		}
		s := seq[id] + 1
		if r.IntN(10) == 0 && s > 1 {
			s -= uint32(1 + r.IntN(int(s-1))) // stale
		} else {
			seq[id] = s
		}
		company := "A"
		switch r.IntN(8) {
		case 0:
			company = "B"
		case 1:
			company = ""
		}
		mb := Member{ContactID: id, CompanyID: company, Seq: s, Scores: map[string]rules.Points{"eng": p(float64(r.IntN(40) - 8))}}
		if r.IntN(3) > 0 {
			mb.Props = map[string]string{"owner_id": fmt.Sprintf("u%d", r.IntN(3))}
			if role := roles[r.IntN(len(roles))]; role != "" {
				mb.Props["job_role"] = role
			}
		}
		out = append(out, Change{To: "A", Member: mb, EventID: fmt.Sprintf("e%d", i), At: at})
	}
	return out
}

// figures is the reference for Figures: Evaluate over the members.
func figures(m *rules.CompanyModel, a *Aggregate) Figures {
	s := Evaluate(m, a.CompanyID, a.Members())
	f := Figures{Members: len(s.Contacts), Top: Top(s)}
	s.Contacts = nil
	f.Score = s
	return f
}

// The running rollups of every kind (sum, max, avg_top_n) equal Evaluate
// over the members after each change, top members included; the
// crossings and standing equal the reference's (Crossings, Standing); a
// reload (new rules for the same models) rebuilds them; and a change
// Moves calls still leaves every model's standing, and its figures as the
// company-scores message shows them, as they were.
func TestAggregateFiguresEqualEvaluate(t *testing.T) {
	stills := 0
	for seed := range uint64(25) {
		r := rand.New(rand.NewPCG(seed, 3))
		models := incrementalModels()
		changes := randomChanges(r, 400)
		a := NewAggregate("A")
		var got []Crossing
		for i := range changes {
			if i == 200 {
				models = incrementalModels() // a reload: the same models under new pointers
			}
			ch := &changes[i]
			moves := a.Moves(models, ch)
			var before []Figures
			var standing []ModelState
			if !moves {
				for _, m := range models {
					before = append(before, shown(a.Figures(m)))
					standing = append(standing, cloneState(a.Models[m.Name]))
				}
			}
			xs, _ := a.Apply(models, ch)
			got = append(got, xs...)
			for k, m := range models {
				f, want := a.Figures(m), figures(m, a)
				if !reflect.DeepEqual(f, want) {
					t.Fatalf("seed %d change %d model %s: figures\n%+v\nwant Evaluate's\n%+v", seed, i, m.Name, f, want)
				}
				if !moves {
					if !reflect.DeepEqual(shown(f), before[k]) || !reflect.DeepEqual(cloneState(a.Models[m.Name]), standing[k]) {
						t.Fatalf("seed %d change %d model %s: Moves said no, but the figures or standing moved:\n%+v\n%+v", seed, i, m.Name, before[k], f)
					}
				}
			}
			if !moves {
				stills++
			}
		}
		for _, m := range models {
			var live []Crossing
			for _, x := range got {
				if x.Model == m.Name {
					live = append(live, x)
				}
			}
			if ref := Crossings(m, "A", changes); !reflect.DeepEqual(live, ref) {
				t.Fatalf("seed %d model %s: crossings\n%+v\nwant the reference's\n%+v", seed, m.Name, live, ref)
			}
			ref := Standing(m, "A", changes)
			if st := cloneState(a.Models[m.Name]); !reflect.DeepEqual(st, cloneState(&ref)) {
				t.Fatalf("seed %d model %s: standing %+v, reference %+v", seed, m.Name, st, ref)
			}
		}
	}
	if stills == 0 {
		t.Fatal("Moves never said no: the test checks nothing of it")
	}
}

// shown is what the company-scores message shows of figures: the top
// members without their owner and properties.
func shown(f Figures) Figures {
	top := make([]ContactScore, len(f.Top))
	for i, c := range f.Top {
		top[i] = ContactScore{ContactID: c.ContactID, Score: c.Score, Role: c.Role, Counted: c.Counted, InRollup: c.InRollup}
	}
	f.Top = top
	return f
}

func cloneState(st *ModelState) ModelState {
	if st == nil {
		return ModelState{}
	}
	return ModelState{Score: st.Score, Disarmed: append([]bool(nil), st.Disarmed...), CrossedAt: append([]int64(nil), st.CrossedAt...)}
}
