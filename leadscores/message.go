package leadscores

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// TopGroups is how many groups a model's top holds.
const TopGroups = 3

// Message is a contact's current scores.
type Message struct {
	ContactID string `json:"contact_id"`
	// CompanyID is the company of the event that produced the message
	// ("" when it had none).
	CompanyID string `json:"company_id"`
	// UpdatedAt is the occurred_at of the latest event the scores reflect
	// when the message was produced: the time the scores are computed at.
	UpdatedAt   time.Time        `json:"updated_at"`
	RuleVersion string           `json:"rule_version"`
	Models      map[string]Model `json:"models"`
}

// Model is one model's state for the contact.
type Model struct {
	Score float64 `json:"score"`
	// Threshold names the highest threshold the contact is past: crossed
	// and not re-armed ("default" for a model with a single threshold);
	// nil when it is past none.
	Threshold *string `json:"threshold"`
	// CrossedAt is when that threshold was crossed (the crossing event's
	// occurred_at); nil with no threshold, or when the state predates
	// crossing times.
	CrossedAt *time.Time `json:"crossed_at"`
	// Top holds the TopGroups largest positive group sums, largest first
	// (ties by name); empty, never nil, when no group adds points.
	Top []Group `json:"top"`
}

// Group is a group's clamped sum.
type Group struct {
	Group  string  `json:"group"`
	Points float64 `json:"points"`
}

// Build is the message of contact c: every model scored at c's latest
// event. s is only read through (Score, GroupSums): any Scorer over the
// engine c was scored with.
func Build(s *scoring.Scorer, contactID, companyID string, c *scoring.Contact) Message {
	m := Message{
		ContactID: contactID, CompanyID: companyID, UpdatedAt: time.Unix(0, c.Latest).UTC(),
		RuleVersion: s.Rules.Version, Models: make(map[string]Model, len(s.Rules.Models)),
	}
	for mi, rm := range s.Rules.Models {
		mm := Model{Score: rules.Float(s.Score(c, mi, c.Latest)), Top: []Group{}}
		if k, at, ok := s.Armed(c, mi); ok {
			name := rm.Thresholds[k].Name
			mm.Threshold = &name
			if at != 0 {
				t := time.Unix(0, at).UTC()
				mm.CrossedAt = &t
			}
		}
		top, _ := topGroups(s, c, mi)
		for _, g := range top {
			if g.points > 0 {
				mm.Top = append(mm.Top, Group{Group: rm.Groups[g.group].Name, Points: rules.Float(g.points)})
			}
		}
		m.Models[rm.Name] = mm
	}
	return m
}

type groupSum struct {
	group  int
	points rules.Points
}

// topGroups is model mi's TopGroups largest positive group sums, largest
// first, ties by name (unused places have no points), and the sum of all
// its groups' sums.
func topGroups(s *scoring.Scorer, c *scoring.Contact, mi int) (top [TopGroups]groupSum, total rules.Points) {
	groups := s.Rules.Models[mi].Groups
	above := func(a, b groupSum) bool {
		return a.points > b.points || a.points == b.points && groups[a.group].Name < groups[b.group].Name
	}
	s.GroupSums(c, mi, c.Latest, func(g int, v rules.Points) {
		total += v
		x := groupSum{g, v}
		if v <= 0 || top[TopGroups-1].points > 0 && !above(x, top[TopGroups-1]) {
			return
		}
		i := TopGroups - 1
		for i > 0 && (top[i-1].points <= 0 || above(x, top[i-1])) {
			top[i] = top[i-1]
			i--
		}
		top[i] = x
	})
	return top, total
}

// SameScores reports whether a and b say the same about the contact's
// scores: rule version and every model's score, threshold, crossing time
// and top groups. The contact, company and updated_at are not compared.
func SameScores(a, b *Message) bool {
	if a.RuleVersion != b.RuleVersion || len(a.Models) != len(b.Models) {
		return false
	}
	for name, x := range a.Models {
		y, ok := b.Models[name]
		if !ok || x.Score != y.Score || !slices.Equal(x.Top, y.Top) {
			return false
		}
		if (x.Threshold == nil) != (y.Threshold == nil) || x.Threshold != nil && *x.Threshold != *y.Threshold {
			return false
		}
		if (x.CrossedAt == nil) != (y.CrossedAt == nil) || x.CrossedAt != nil && !x.CrossedAt.Equal(*y.CrossedAt) {
			return false
		}
	}
	return true
}

// Marshal is the message's JSON: map keys sorted, so equal messages are
// equal bytes. goccy/go-json writes what encoding/json does (the tests
// hold them to the same bytes), several times faster.
func Marshal(m *Message) []byte {
	data, err := gojson.Marshal(m)
	if err != nil {
		data, _ = json.Marshal(m) // plain types: cannot fail
	}
	return data
}

// Decode reads a message, checking what a consumer relies on. A nil
// value is a tombstone: ok is false and err nil.
func Decode(key, value []byte) (m Message, ok bool, err error) {
	return DecodeKeyed("lead-scores", "contact_id", key, value, func(m *Message) (string, bool) { return m.ContactID, m.Models != nil })
}

// DecodeKeyed reads a JSON message of a scores topic keyed by the id the
// message carries (lead-scores, company-scores), checking what a consumer
// relies on: fields returns the message's id and whether it has models;
// the id must be the key. topic and idField name them in errors. A nil
// value is a tombstone: ok is false and err nil.
func DecodeKeyed[M any](topic, idField string, key, value []byte, fields func(*M) (id string, models bool)) (m M, ok bool, err error) {
	var zero M
	if value == nil {
		return zero, false, nil
	}
	if err := json.Unmarshal(value, &m); err != nil {
		return zero, false, fmt.Errorf("%s message for key %q: %w", topic, key, err)
	}
	id, models := fields(&m)
	switch {
	case id == "":
		err = fmt.Errorf("no %s", idField)
	case id != string(key):
		err = fmt.Errorf("%s %q is not the key", idField, id)
	case !models:
		err = errors.New("no models")
	}
	if err != nil {
		return zero, false, fmt.Errorf("%s message for key %q: %w", topic, key, err)
	}
	return m, true, nil
}
