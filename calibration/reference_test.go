package calibration

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/scorebridge/scorebridge/rules"
)

// refContact is one contact of a population, for the reference.
type refContact struct {
	score rules.Points
	conv  bool
}

// reference computes a model's calibration from the definitions, contact
// by contact: AUC over every (converted, non-converted) pair, each
// contact's band from the rank of the first contact with its score.
func reference(model string, cs []refContact, ths []rules.Threshold, bands int) Model {
	m := Model{Model: model, Bands: []Band{}, Thresholds: []ThresholdRow{}}
	for _, c := range cs {
		m.Contacts++
		if c.conv {
			m.Converted++
		}
	}
	var twice, pairs int64
	for _, p := range cs {
		for _, n := range cs {
			if !p.conv || n.conv {
				continue
			}
			pairs++
			switch {
			case p.score > n.score:
				twice += 2
			case p.score == n.score:
				twice++
			}
		}
	}
	if pairs > 0 {
		v := float64(twice) / (2 * float64(pairs))
		m.AUC = &v
	}
	sorted := append([]refContact(nil), cs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].score > sorted[j].score })
	bandOf := make([]int, len(sorted))
	for i, c := range sorted {
		first := i
		for first > 0 && sorted[first-1].score == c.score {
			first--
		}
		bandOf[i] = first * bands / len(sorted)
	}
	for i, c := range sorted {
		if i == 0 || bandOf[i] != bandOf[i-1] {
			m.Bands = append(m.Bands, Band{Max: rules.Float(c.score)})
		}
		b := &m.Bands[len(m.Bands)-1]
		b.Min = rules.Float(c.score)
		b.Contacts++
		if c.conv {
			b.Converted++
		}
	}
	overall := float64(m.Converted) / float64(m.Contacts)
	for i := range m.Bands {
		b := &m.Bands[i]
		b.Rate = float64(b.Converted) / float64(b.Contacts)
		if m.Converted > 0 {
			b.Lift = b.Rate / overall
		}
	}
	for _, th := range ths {
		r := ThresholdRow{Name: th.Name, Score: rules.Float(th.At)}
		for _, c := range cs {
			if c.score >= th.At {
				r.Contacts++
				if c.conv {
					r.Converted++
				}
			}
		}
		if r.Contacts > 0 {
			r.Rate = float64(r.Converted) / float64(r.Contacts)
		}
		if m.Converted > 0 {
			r.Recall = float64(r.Converted) / float64(m.Converted)
		}
		m.Thresholds = append(m.Thresholds, r)
	}
	return m
}

func bucketsOf(cs []refContact) []Bucket {
	var bs []Bucket
	for _, c := range cs {
		bs = append(bs, Bucket{Score: c.score, Contacts: 1, Converted: b2i(c.conv)})
	}
	return bs
}

// The O(distinct scores) summary equals the reference on random
// populations with heavy ties, few or many bands, and empty classes.
func TestSummarizeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ths := []rules.Threshold{{Name: "a", At: 3 * rules.Scale}, {Name: "b", At: 7 * rules.Scale}}
	for trial := 0; trial < 500; trial++ {
		n := 1 + r.IntN(60)
		distinct := 1 + r.IntN(12)
		p := r.Float64()
		cs := make([]refContact, n)
		for i := range cs {
			cs[i] = refContact{score: rules.Points(r.IntN(distinct)) * rules.Scale / 2, conv: r.Float64() < p}
		}
		bands := 1 + r.IntN(12)
		want := reference("m", cs, ths, bands)
		got := Summarize("m", bucketsOf(cs), ths, bands)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d (n=%d bands=%d):\ngot  %+v\nwant %+v", trial, n, bands, got, want)
		}
	}
}
