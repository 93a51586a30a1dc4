package studio

import (
	"math"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
)

// Threshold is a model's threshold as the pages show it.
type Threshold struct {
	Name       string  `json:"name"`
	At         float64 `json:"at"`
	RearmBelow float64 `json:"rearm_below"`
}

func thresholdsOf(m *rules.Model) []Threshold {
	out := make([]Threshold, 0, len(m.Thresholds))
	for _, t := range m.Thresholds {
		out = append(out, Threshold{Name: t.Name, At: rules.Float(t.At), RearmBelow: rules.Float(t.RearmBelow)})
	}
	return out
}

// Bin is one bar of a score histogram: contacts with Lo <= score < Hi
// (the last bin includes Hi).
type Bin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count int     `json:"count"`
}

// Week is the crossings of one week (starting Monday, UTC) per threshold.
type Week struct {
	Week  string         `json:"week"` // YYYY-MM-DD of its Monday
	Count map[string]int `json:"count"`
	Total int            `json:"total"`
}

// ModelStats is what the overview shows of one model.
type ModelStats struct {
	Name       string      `json:"name"`
	File       string      `json:"file"`
	Groups     int         `json:"groups"`
	Thresholds []Threshold `json:"thresholds"`
	HalfLife   string      `json:"half_life,omitempty"`
	Contacts   int         `json:"contacts"`
	Mean       float64     `json:"mean"`
	Max        float64     `json:"max"`
	// AtOrAbove counts, per threshold, the contacts whose score is at or
	// above it now; Crossed those that crossed it at least once, and
	// Crossings every crossing.
	AtOrAbove map[string]int `json:"at_or_above"`
	Crossed   map[string]int `json:"crossed"`
	Crossings map[string]int `json:"crossings"`
	Histogram []Bin          `json:"histogram"`
	Weeks     []Week         `json:"weeks"`
}

// byModel splits backtest lines per model name.
func byModel(lines []backtest.Line) map[string][]*backtest.Line {
	out := map[string][]*backtest.Line{}
	for i := range lines {
		l := &lines[i]
		out[l.Model] = append(out[l.Model], l)
	}
	return out
}

func modelStats(m *rules.Model, lines []*backtest.Line, bins []float64) ModelStats {
	st := ModelStats{
		Name: m.Name, File: m.File, Groups: len(m.Groups), Thresholds: thresholdsOf(m), Contacts: len(lines),
		AtOrAbove: map[string]int{}, Crossed: map[string]int{}, Crossings: map[string]int{},
	}
	if m.Decays() {
		st.HalfLife = rules.FormatDuration(m.HalfLife)
	}
	var sum rules.Points
	for i, l := range lines {
		p, _ := rules.ToPoints(l.Score)
		sum += p
		if i == 0 || l.Score > st.Max {
			st.Max = l.Score
		}
		for _, t := range m.Thresholds {
			if p >= t.At {
				st.AtOrAbove[t.Name]++
			}
		}
		seen := map[string]bool{}
		for _, name := range l.Thresholds {
			st.Crossings[name]++
			if !seen[name] {
				seen[name] = true
				st.Crossed[name]++
			}
		}
	}
	for _, t := range m.Thresholds {
		st.AtOrAbove[t.Name] += 0
		st.Crossed[t.Name] += 0
		st.Crossings[t.Name] += 0
	}
	if len(lines) > 0 {
		st.Mean = math.Round(rules.Float(sum)/float64(len(lines))*100) / 100
	}
	st.Histogram = histogram(scoresOf(lines), bins)
	st.Weeks = weeks(lines)
	return st
}

// edges picks about 20 round-width bins covering the scores and the
// thresholds, so that before and after share one axis.
func edges(scores []float64, ths []Threshold) []float64 {
	lo, hi := 0.0, 0.0
	for _, s := range scores {
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	for _, t := range ths {
		lo, hi = math.Min(lo, t.At), math.Max(hi, t.At)
	}
	if hi == lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 20
	step := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, k := range []float64{1, 2, 2.5, 5, 10} {
		if step*k >= raw {
			step *= k
			break
		}
	}
	start := math.Floor(lo/step) * step
	var out []float64
	for x := start; ; x += step {
		out = append(out, x)
		if x > hi {
			break
		}
	}
	return out
}

func histogram(scores []float64, e []float64) []Bin {
	bins := make([]Bin, len(e)-1)
	for i := range bins {
		bins[i] = Bin{Lo: e[i], Hi: e[i+1]}
	}
	for _, sc := range scores {
		i := sort.SearchFloat64s(e, sc) // first edge >= score
		if i < len(e) && e[i] == sc {
			i++ // score on an edge belongs to the bin it opens
		}
		i--
		i = max(0, min(i, len(bins)-1))
		bins[i].Count++
	}
	return bins
}

// weekOf is the Monday (UTC) of t's week.
func weekOf(t time.Time) string {
	t = t.UTC()
	d := (int(t.Weekday()) + 6) % 7
	return time.Date(t.Year(), t.Month(), t.Day()-d, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

func weeks(lines []*backtest.Line) []Week {
	byWeek := map[string]*Week{}
	for _, l := range lines {
		for i, at := range l.Crossings {
			k := weekOf(at)
			w := byWeek[k]
			if w == nil {
				w = &Week{Week: k, Count: map[string]int{}}
				byWeek[k] = w
			}
			name := ""
			if i < len(l.Thresholds) {
				name = l.Thresholds[i]
			}
			w.Count[name]++
			w.Total++
		}
	}
	out := make([]Week, 0, len(byWeek))
	for _, w := range byWeek {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Week < out[j].Week })
	return out
}

func scoresOf(lines []*backtest.Line) []float64 {
	out := make([]float64, len(lines))
	for i, l := range lines {
		out[i] = l.Score
	}
	return out
}
