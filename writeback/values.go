package writeback

import (
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/scorebridge/scorebridge/leadscores"
)

// The HubSpot values of a model's properties. HubSpot holds every value as
// a string: numbers in decimal, datetimes in milliseconds since the epoch,
// and "" clears a value.

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

// written is what the write-back last wrote for a contact: the property
// values, and the scores min_delta compares with.
type written struct {
	props  map[string]string
	scores map[string]float64
}

func writtenOf(c *Config, m *leadscores.Message) written {
	w := written{props: c.propertiesOf(m), scores: map[string]float64{}}
	for name, mm := range m.Models {
		if c.writes(name) {
			w.scores[name] = mm.Score
		}
	}
	return w
}

// worthWriting: with min_delta 0, any value changed; else a score moved
// by at least min_delta, a threshold (or its crossing time) changed, or a
// model appeared or went. The top groups alone never cause a write.
func (w written) worthWriting(c *Config, now written) bool {
	if len(w.scores) != len(now.scores) {
		return true
	}
	if c.minDelta == 0 {
		return !maps.Equal(w.props, now.props)
	}
	for name, s := range now.scores {
		old, ok := w.scores[name]
		if !ok || math.Abs(s-old) >= c.minDelta {
			return true
		}
		for _, tmpl := range []string{c.Properties.Threshold, c.Properties.CrossedAt} {
			if p := property(tmpl, name); w.props[p] != now.props[p] {
				return true
			}
		}
	}
	return false
}
