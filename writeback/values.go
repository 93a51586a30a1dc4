package writeback

import (
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/leadscores"
)

// scoreValue and the *Value functions below are the HubSpot values of a
// model's properties. HubSpot holds every value as a string: numbers in
// decimal, datetimes in milliseconds since the epoch, and "" clears a
// value.
func scoreValue(m leadscores.Model) string { return strconv.FormatFloat(m.Score, 'f', -1, 64) }

func thresholdValue(m leadscores.Model) string {
	if m.Threshold == nil {
		return ""
	}
	return *m.Threshold
}

func crossedAtValue(m leadscores.Model) string {
	if m.Threshold == nil || m.CrossedAt == nil {
		return ""
	}
	return strconv.FormatInt(m.CrossedAt.UnixMilli(), 10)
}

// topValue is "call_started 30; email_open 8".
func topValue(m leadscores.Model) string {
	parts := make([]string, len(m.Top))
	for i, g := range m.Top {
		parts[i] = g.Group + " " + strconv.FormatFloat(g.Points, 'f', -1, 64)
	}
	return strings.Join(parts, "; ")
}

// propertiesOf are the property values a message asks HubSpot to hold,
// for the models the section writes.
func (c *Config) propertiesOf(m *leadscores.Message) map[string]string {
	out := map[string]string{}
	for name, mm := range m.Models {
		if !c.writes(name) {
			continue
		}
		out[property(c.Properties.Score, name)] = scoreValue(mm)
		out[property(c.Properties.Threshold, name)] = thresholdValue(mm)
		out[property(c.Properties.CrossedAt, name)] = crossedAtValue(mm)
		out[property(c.Properties.Top, name)] = topValue(mm)
	}
	return out
}

// companyPropertiesOf are the company property values a company-scores
// message asks HubSpot to hold, for the company models the section
// writes.
func (c *CompanyConfig) companyPropertiesOf(m *companyscores.Message) map[string]string {
	p := &c.Properties
	out := map[string]string{}
	for name, mm := range m.Models {
		if !c.writes(name) {
			continue
		}
		lm := leadscores.Model{Score: mm.Score, Threshold: mm.Threshold, CrossedAt: mm.CrossedAt}
		out[property(p.Score, name)] = scoreValue(lm)
		out[property(p.Threshold, name)] = thresholdValue(lm)
		out[property(p.CrossedAt, name)] = crossedAtValue(lm)
		out[property(p.Top, name)] = companyTopValue(mm)
		out[property(p.Coverage, name)] = strings.Join(mm.Coverage, "; ")
		out[property(p.Contacts, name)] = strconv.Itoa(mm.Counted)
	}
	return out
}

// companyTopValue is "c-1 30 (champion); c-2 12".
func companyTopValue(m companyscores.Model) string {
	parts := make([]string, len(m.Top))
	for i, c := range m.Top {
		parts[i] = c.ContactID + " " + strconv.FormatFloat(c.Score, 'f', -1, 64)
		if c.Role != "" {
			parts[i] += " (" + c.Role + ")"
		}
	}
	return strings.Join(parts, "; ")
}

// written is what the write-back last wrote for a record: the property
// values, the scores min_delta compares with, and the properties whose
// change is always written (thresholds and their crossing times).
type written struct {
	props  map[string]string
	scores map[string]float64
	sticky []string
}

func writtenOf(c *Config, m *leadscores.Message) written {
	w := written{props: c.propertiesOf(m), scores: map[string]float64{}}
	for name, mm := range m.Models {
		if c.writes(name) {
			w.scores[name] = mm.Score
			w.sticky = append(w.sticky, property(c.Properties.Threshold, name), property(c.Properties.CrossedAt, name))
		}
	}
	return w
}

func companyWrittenOf(c *CompanyConfig, m *companyscores.Message) written {
	w := written{props: c.companyPropertiesOf(m), scores: map[string]float64{}}
	for name, mm := range m.Models {
		if c.writes(name) {
			w.scores[name] = mm.Score
			w.sticky = append(w.sticky, property(c.Properties.Threshold, name), property(c.Properties.CrossedAt, name))
		}
	}
	return w
}

// worthWriting: with min_delta 0, any value changed; else a score moved
// by at least min_delta, a threshold (or its crossing time) changed, or a
// model appeared or went. The other properties (top groups or members,
// coverage, counted contacts) alone never cause a write.
func (w written) worthWriting(minDelta float64, now written) bool {
	if len(w.scores) != len(now.scores) {
		return true
	}
	if minDelta == 0 {
		return !maps.Equal(w.props, now.props)
	}
	for name, s := range now.scores {
		old, ok := w.scores[name]
		if !ok || math.Abs(s-old) >= minDelta {
			return true
		}
	}
	for _, p := range now.sticky {
		if w.props[p] != now.props[p] {
			return true
		}
	}
	return false
}
