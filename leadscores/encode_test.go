package leadscores

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/synth"
)

// Over every event of a generated history, under the repository's rules
// and under the same models listed in reverse order: an Encoder's words of
// two states are equal exactly when their messages have the same scores,
// and Append writes what encoding/json writes for Build's message (and
// Marshal the same).
func TestEncoder(t *testing.T) {
	base := engine(t)
	reversed := slices.Clone(base.Rules.Models)
	slices.Reverse(reversed)
	back, err := scoring.NewEngine(&rules.Set{Models: reversed, Version: base.Rules.Version})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*scoring.Engine{base, back} {
		s := scoring.NewScorer(e)
		enc := NewEncoder(e.Rules)
		cfg := synth.Default()
		cfg.Contacts, cfg.Days = 60, 40
		states := map[string]*scoring.Contact{}
		prev := map[string]Message{}
		prevWords := map[string][]uint64{}
		changes, same, crossed := 0, 0, 0
		var buf []byte
		synth.Generate(cfg, func(ev *events.Event) error {
			c := states[ev.ContactID]
			if c == nil {
				c = &scoring.Contact{}
				states[ev.ContactID] = c
			}
			s.Apply(c, ev)
			m := Build(s, ev.ContactID, ev.CompanyID, c)
			words := enc.Scores(nil, s, c)
			if len(words) != enc.Words() {
				t.Fatalf("Scores gave %d words, Words says %d", len(words), enc.Words())
			}
			for mi := range e.Rules.Models {
				if got, want := rules.Points(words[mi*ModelWords]), s.Score(c, mi, c.Latest); got != want {
					t.Fatalf("event %s, model %d: score %d in the words, Score %d", ev.ID, mi, got, want)
				}
			}
			if p, ok := prev[ev.ContactID]; ok {
				if SameScores(&p, &m) != slices.Equal(prevWords[ev.ContactID], words) {
					t.Fatalf("event %s: SameScores %v, words equal %v", ev.ID, SameScores(&p, &m), slices.Equal(prevWords[ev.ContactID], words))
				}
				if SameScores(&p, &m) {
					same++
				} else {
					changes++
				}
			}
			prev[ev.ContactID], prevWords[ev.ContactID] = m, words
			for _, mm := range m.Models {
				if mm.CrossedAt != nil {
					crossed++
				}
			}
			std, err := json.Marshal(&m)
			if err != nil {
				t.Fatal(err)
			}
			buf = enc.Append(buf[:0], ev.ContactID, ev.CompanyID, c.Latest, words)
			if !bytes.Equal(buf, std) || !bytes.Equal(Marshal(&m), std) {
				t.Fatalf("event %s:\nAppend        %s\nMarshal       %s\nencoding/json %s", ev.ID, buf, Marshal(&m), std)
			}
			return nil
		})
		if changes == 0 || same == 0 || crossed == 0 {
			t.Fatalf("%d changes, %d unchanged, %d crossed: the test needs all", changes, same, crossed)
		}
	}
}

// Ids that need escaping, or are not UTF-8, are written as encoding/json
// writes them.
func TestEncoderStrings(t *testing.T) {
	e := engine(t)
	s := scoring.NewScorer(e)
	enc := NewEncoder(e.Rules)
	c := &scoring.Contact{}
	s.Apply(c, &events.Event{ID: "e1", ContactID: "x", Type: "email_opened", OccurredAt: time.Date(2026, 11, 20, 10, 5, 0, 123456789, time.UTC)})
	words := enc.Scores(nil, s, c)
	ids := []string{"", "c-1", `q"uote`, `back\slash`, "<b>&amp;</b>", "tab\there", "nl\n\r\b\f\x00\x1f", "\x7f",
		"ünïcødé", "\u2028\u2029", "bad\xffutf8", "\xe2\x82", "😀"}
	for _, id := range ids {
		m := Build(s, id, id+"-co", c)
		std, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if got := enc.Append(nil, id, id+"-co", c.Latest, words); !bytes.Equal(got, std) {
			t.Errorf("id %q:\nAppend        %s\nencoding/json %s", id, got, std)
		}
	}
}

// appendPoints writes what encoding/json writes for rules.Float.
func TestAppendPoints(t *testing.T) {
	ps := []rules.Points{0, 1, -1, 9, 10, 999_999, 1_000_000, 1_000_001, -1_500_000, 22_996_151,
		999_999_999_999_999, 1_000_000_000_000_000, -1_000_000_000_000_000, -999_999_999_999_999,
		123_456_789_012_345_678, math.MaxInt64, math.MinInt64 + 1, math.MinInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		p := r.Int64N(1 << uint(r.IntN(62)+1)) // magnitudes of every size
		if r.IntN(2) == 0 {
			p = -p
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		std, err := json.Marshal(rules.Float(p))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPoints(nil, p); !bytes.Equal(got, std) {
			t.Fatalf("%d micro-points: %s, encoding/json %s", p, got, std)
		}
	}
}
