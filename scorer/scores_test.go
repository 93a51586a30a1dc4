package scorer

import (
	"bytes"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/scoring"
)

// checkScoresTopic holds the lead-scores topic to the backtest of the same
// history: its latest message per contact has the backtest's scores, the
// threshold the backtest's final state is past and that threshold's last
// crossing time. With once, no message repeats the scores of the one
// before it for the same contact (published only on a change; a run with
// crashes may republish on replay).
func checkScoresTopic(t *testing.T, e *env, once bool) {
	t.Helper()
	states := map[string]*scoring.Contact{}
	lines := map[string]backtest.Line{}
	_, err := backtest.Run(e.engine, bytes.NewReader(e.raw), nil, backtest.Options{
		State: func(id string, c *scoring.Contact) error { states[id] = c; return nil },
	}, func(l backtest.Line) error { lines[l.ContactID+"/"+l.Model] = l; return nil })
	if err != nil {
		t.Fatal(err)
	}
	company := map[string]string{}
	for _, ev := range e.events {
		company[ev.ContactID] = ev.CompanyID
	}

	latest := map[string]leadscores.Message{}
	published, repeats, crossed := 0, 0, 0
	for _, m := range readTopic(t, e.brokers, "lead-scores", partitions) {
		msg, ok, err := leadscores.Decode(m.Key, m.Value)
		if err != nil || !ok {
			t.Fatalf("message %q: %v (tombstone: %v)", m.Value, err, !ok)
		}
		if prev, seen := latest[msg.ContactID]; seen && leadscores.SameScores(&prev, &msg) {
			repeats++
		}
		latest[msg.ContactID] = msg
		published++
	}
	if len(latest) != len(states) {
		t.Errorf("%d contacts on lead-scores, backtest has %d", len(latest), len(states))
	}
	s := scoring.NewScorer(e.engine)
	for id, st := range states {
		got, ok := latest[id]
		if !ok {
			t.Errorf("%s: no lead-scores message", id)
			continue
		}
		want := leadscores.Build(s, id, company[id], st)
		if !leadscores.SameScores(&got, &want) || got.CompanyID != want.CompanyID {
			t.Errorf("%s: lead-scores says\n%s\nbacktest state gives\n%s", id, leadscores.Marshal(&got), leadscores.Marshal(&want))
		}
		if got.UpdatedAt.After(time.Unix(0, st.Latest)) {
			t.Errorf("%s: updated_at %s after the contact's latest event", id, got.UpdatedAt)
		}
		// The backtest's own lines, independently of Build: the score,
		// and a threshold crossed at its last crossing by that name.
		for name, gm := range got.Models {
			l := lines[id+"/"+name]
			if gm.Score != l.Score {
				t.Errorf("%s/%s: score %v, backtest %v", id, name, gm.Score, l.Score)
			}
			if gm.Threshold == nil {
				continue
			}
			crossed++
			var last time.Time
			for i, th := range l.Thresholds {
				if th == *gm.Threshold {
					last = l.Crossings[i]
				}
			}
			if gm.CrossedAt == nil || !gm.CrossedAt.Equal(last) {
				t.Errorf("%s/%s: past %s crossed at %v, backtest's last crossing of it %s", id, name, *gm.Threshold, gm.CrossedAt, last)
			}
		}
	}
	if crossed == 0 {
		t.Fatal("no contact past a threshold: the test would check little")
	}
	if once && repeats > 0 {
		t.Errorf("%d of %d messages repeat the previous scores of their contact", repeats, published)
	}
	t.Logf("lead-scores: %d messages for %d contacts (%d repeats), %d models past a threshold", published, len(latest), repeats, crossed)
}

// BenchmarkHandleScores is BenchmarkHandle with the lead-scores messages
// built and discarded too: compare the two ns/event (or cpu-ns/event) in
// one run for what publishing scores costs the scorer.
func BenchmarkHandleScores(b *testing.B) {
	var scores discard
	benchmarkHandle(b, nil, &scores)
	b.ReportMetric(float64(scores.n)/float64(b.N*50_000), "scores/event")
}
