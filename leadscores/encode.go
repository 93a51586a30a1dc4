package leadscores

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// The scorer publishes a message for nearly every contact of every batch,
// so it does not go through Build and Marshal: an Encoder reads what a
// message says about a contact's scores into a few words (Scores), compares
// those words with the ones it read before the batch, and writes the JSON
// of the changed contacts straight from them (Append): no map, no
// reflection, no allocation but the caller's buffer. The bytes are
// Marshal(Build(...))'s, which the tests hold it to.

// ModelWords is how many words Scores appends per model: the score, the
// threshold the contact is past (-1 for none), its crossing time, and the
// top groups as (group, points) pairs.
const ModelWords = 3 + 2*TopGroups

// Encoder writes the messages of contacts scored under one rule set,
// keeping its names JSON-encoded. It is read-only once made: any number
// of goroutines may share it, each reading through its own Scorer.
type Encoder struct {
	set    *rules.Set
	models []modelText // in the order encoding/json writes a map: by name
	// version is `","rule_version":"V","models":{`.
	version []byte
}

type modelText struct {
	mi int
	// key is `"name":{"score":` (after the first model, a comma before).
	key        []byte
	thresholds [][]byte // JSON strings, by threshold index
	groups     [][]byte // `{"group":"name","points":`, by group index
}

// NewEncoder returns the encoder of a rule set.
func NewEncoder(set *rules.Set) *Encoder {
	e := &Encoder{set: set}
	e.version = append(appendString(append([]byte(nil), `","rule_version":`...), set.Version), `,"models":{`...)
	// A map keeps the last of equal keys, and encoding/json sorts keys.
	order := make([]int, 0, len(set.Models))
	for mi, m := range set.Models {
		order = slices.DeleteFunc(order, func(o int) bool { return set.Models[o].Name == m.Name })
		order = append(order, mi)
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := set.Models[a].Name, set.Models[b].Name
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	for i, mi := range order {
		m := set.Models[mi]
		t := modelText{mi: mi}
		if i > 0 {
			t.key = append(t.key, ',')
		}
		t.key = append(appendString(t.key, m.Name), `:{"score":`...)
		for _, th := range m.Thresholds {
			t.thresholds = append(t.thresholds, appendString(nil, th.Name))
		}
		for _, g := range m.Groups {
			t.groups = append(t.groups, append(appendString([]byte(`{"group":`), g.Name), `,"points":`...))
		}
		e.models = append(e.models, t)
	}
	return e
}

// Rules is the encoder's rule set.
func (e *Encoder) Rules() *rules.Set { return e.set }

// Words is how many words Scores appends: ModelWords per model.
func (e *Encoder) Words() int { return ModelWords * len(e.set.Models) }

// Scores appends what c's message says about its scores (what SameScores
// compares but the rule version, the encoder's own): ModelWords per model
// of the rule set, in its order. Two contacts' words are equal exactly when
// their messages have the same scores. s is any Scorer of an engine of
// the encoder's rule set (only read through).
func (e *Encoder) Scores(dst []uint64, s *scoring.Scorer, c *scoring.Contact) []uint64 {
	for mi, m := range s.Rules.Models {
		k, at, ok := s.Armed(c, mi)
		if !ok {
			k, at = -1, 0
		}
		// One walk of the groups for both: the score is the model's clamp
		// of the sum of its groups' clamped sums (what Score adds up).
		top, total := topGroups(s, c, mi)
		dst = append(dst, uint64(m.Clamp(total)), uint64(k), uint64(at),
			uint64(top[0].group), uint64(top[0].points),
			uint64(top[1].group), uint64(top[1].points),
			uint64(top[2].group), uint64(top[2].points))
	}
	return dst
}

// Append appends the JSON of the message of a contact whose latest event
// occurred at latest (unix nanos) and whose scores are words (Scores of
// it): the bytes Marshal writes for Build's message of the contact.
func (e *Encoder) Append(dst []byte, contactID, companyID string, latest int64, words []uint64) []byte {
	dst = append(dst, `{"contact_id":`...)
	dst = appendString(dst, contactID)
	dst = append(dst, `,"company_id":`...)
	dst = appendString(dst, companyID)
	dst = append(dst, `,"updated_at":"`...)
	dst = appendTime(dst, latest)
	dst = append(dst, e.version...)
	for _, t := range e.models {
		w := words[t.mi*ModelWords : (t.mi+1)*ModelWords]
		dst = append(dst, t.key...)
		dst = appendPoints(dst, rules.Points(w[0]))
		if k := int(int64(w[1])); k >= 0 {
			dst = append(dst, `,"threshold":`...)
			dst = append(dst, t.thresholds[k]...)
			if at := int64(w[2]); at != 0 {
				dst = append(dst, `,"crossed_at":"`...)
				dst = appendTime(dst, at)
				dst = append(dst, `","top":[`...)
			} else {
				dst = append(dst, `,"crossed_at":null,"top":[`...)
			}
		} else {
			dst = append(dst, `,"threshold":null,"crossed_at":null,"top":[`...)
		}
		for i := 0; i < TopGroups; i++ {
			g, pts := int(w[3+2*i]), rules.Points(w[4+2*i])
			if pts <= 0 {
				break // topGroups fills places in order
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, t.groups[g]...)
			dst = appendPoints(dst, pts)
			dst = append(dst, '}')
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, "}}"...)
}

// appendTime writes unix nanos as time.Time's MarshalJSON does, without
// the quotes.
func appendTime(dst []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(dst, time.RFC3339Nano)
}

// appendPoints writes micro-points as encoding/json writes rules.Float of
// them. Below 10^15 micro-points a number of at most 15 significant digits
// is the shortest decimal that reads back as its float64 (any other that
// short would read back as another float64), so its digits are written
// straight; larger ones go through encoding/json.
func appendPoints(dst []byte, p rules.Points) []byte {
	const limit = 1_000_000_000_000_000
	if p <= -limit || p >= limit {
		data, _ := json.Marshal(rules.Float(p)) // finite: cannot fail
		return append(dst, data...)
	}
	if p < 0 {
		dst = append(dst, '-')
		p = -p
	}
	dst = strconv.AppendInt(dst, p/rules.Scale, 10)
	frac := p % rules.Scale
	if frac == 0 {
		return dst
	}
	var digits [6]byte
	n := 6
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	for digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// appendString writes s as a JSON string as encoding/json does: a string of
// printable ASCII with nothing to escape (contact ids, names) is copied; any
// other goes through encoding/json itself (HTML-safe escapes, invalid UTF-8
// replaced, U+2028 and U+2029 escaped).
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x80 || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			data, _ := json.Marshal(s) // a string: cannot fail
			return append(dst, data...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
