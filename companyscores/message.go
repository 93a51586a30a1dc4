package companyscores

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/rules"
)

// Message is a company's current scores.
type Message struct {
	CompanyID string `json:"company_id"`
	// UpdatedAt is the latest occurred_at of the contact events behind the
	// changes the company applied: the scores are as of then.
	UpdatedAt   time.Time        `json:"updated_at"`
	RuleVersion string           `json:"rule_version"`
	Models      map[string]Model `json:"models"`
}

// Model is one company model's state for the company.
type Model struct {
	Score  float64 `json:"score"`
	Rollup float64 `json:"rollup"`
	// Threshold names the highest threshold the company is past: fired
	// and not re-armed ("default" for a model with a single threshold);
	// nil when it is past none.
	Threshold *string `json:"threshold"`
	// CrossedAt is when that threshold fired (the occurred_at of the
	// contact event that caused it); nil with no threshold, or when the
	// company's state predates crossing times.
	CrossedAt *time.Time `json:"crossed_at"`
	// Coverage lists the configured roles present among counted
	// contacts, sorted; empty, never nil.
	Coverage []string `json:"coverage"`
	Members  int      `json:"members"` // contacts that belong to the company
	Counted  int      `json:"counted"` // of them, at or above min_contact_score
	// Top holds up to accounts.TopMembers counted members, highest score
	// first (ties by id); empty, never nil.
	Top []Contact `json:"top"`
}

// Contact is a member in a model's top.
type Contact struct {
	ContactID string  `json:"contact_id"`
	Score     float64 `json:"score"`
	Role      string  `json:"role,omitempty"`
}

// Build is the message of a company from its aggregate, under every
// company model of set: from the aggregate's running rollups
// (Aggregate.Figures), which it builds for a model that has none. The
// caller holds the aggregate, as for Apply.
func Build(set *rules.Set, agg *accounts.Aggregate) Message {
	m := Message{CompanyID: agg.CompanyID, UpdatedAt: time.Unix(0, agg.Latest).UTC(), RuleVersion: set.Version,
		Models: make(map[string]Model, len(set.Companies))}
	for _, cm := range set.Companies {
		m.Models[cm.Name] = model(cm, agg.Figures(cm), agg.Models[cm.Name])
	}
	return m
}

func model(cm *rules.CompanyModel, f accounts.Figures, st *accounts.ModelState) Model {
	s := f.Score
	mm := Model{Score: rules.Float(s.Score), Rollup: rules.Float(s.Rollup), Coverage: append([]string{}, s.Coverage...),
		Members: f.Members, Counted: s.Counted, Top: make([]Contact, 0, len(f.Top))}
	for _, c := range f.Top {
		mm.Top = append(mm.Top, Contact{ContactID: c.ContactID, Score: rules.Float(c.Score), Role: c.Role})
	}
	if st != nil && len(st.Disarmed) == len(cm.Thresholds) {
		if k, at, ok := st.Past(); ok {
			name := cm.Thresholds[k].Name
			mm.Threshold = &name
			if at != 0 {
				t := time.Unix(0, at).UTC()
				mm.CrossedAt = &t
			}
		}
	}
	return mm
}

// Same reports whether a and b say the same about the company's scores:
// rule version and every model's fields. The company and updated_at are
// not compared.
func Same(a, b *Message) bool {
	if a.RuleVersion != b.RuleVersion || len(a.Models) != len(b.Models) {
		return false
	}
	for name, x := range a.Models {
		y, ok := b.Models[name]
		if !ok || !sameModel(&x, &y) {
			return false
		}
	}
	return true
}

func sameModel(x, y *Model) bool {
	if x.Score != y.Score || x.Rollup != y.Rollup || x.Members != y.Members || x.Counted != y.Counted ||
		!slices.Equal(x.Coverage, y.Coverage) || !slices.Equal(x.Top, y.Top) {
		return false
	}
	if (x.Threshold == nil) != (y.Threshold == nil) || x.Threshold != nil && *x.Threshold != *y.Threshold {
		return false
	}
	return (x.CrossedAt == nil) == (y.CrossedAt == nil) && (x.CrossedAt == nil || x.CrossedAt.Equal(*y.CrossedAt))
}

// Marshal is the message's JSON; map keys sorted, so equal messages are
// equal bytes.
func Marshal(m *Message) []byte {
	data, _ := json.Marshal(m) // plain types: cannot fail
	return data
}

// Decode reads a message, checking what a consumer relies on. A nil
// value is a tombstone: ok is false and err nil.
func Decode(key, value []byte) (m Message, ok bool, err error) {
	return leadscores.DecodeKeyed("company-scores", "company_id", key, value, func(m *Message) (string, bool) { return m.CompanyID, m.Models != nil })
}

// ReadFile reads a file of messages, one JSON line each, as `scorer
// state company-scores` prints them. Errors name the file and line.
func ReadFile(path string) ([]Message, error) {
	return leadscores.ReadFileKeyed(path, "company_id", Decode)
}
