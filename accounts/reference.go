package accounts

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// Member is a contact as company models see it: where it belongs, its
// roles and its current scores.
type Member struct {
	ContactID string `json:"contact_id"`
	// CompanyID is the company named by the contact's latest event (by
	// occurred_at, then id) that carries one; "" when none does.
	CompanyID string `json:"company_id"`
	// Scores holds, for each contact model a company model rolls up, the
	// contact's score at its own latest event time.
	Scores map[string]rules.Points `json:"scores"`
	// Props holds, for each coverage property and OwnerProperty, its
	// value in the latest event whose contact snapshot carries it.
	Props map[string]string `json:"props,omitempty"`
	// Seq counts the contact's distinct events: it grows with every
	// change, so a receiver tells a stale change from a newer one.
	Seq uint32 `json:"seq"`
}

// OwnerProperty is the contact property naming the contact's owner (a
// HubSpot user id): the bridge enrolls a company's member through its
// owner.
const OwnerProperty = "owner_id"

// BridgeProperties are the contact properties a company crossing carries
// for each top member, besides the coverage properties, so that the bridge
// can choose, suppress and schedule an enrollment without asking anyone.
var BridgeProperties = []string{OwnerProperty, "email", "lifecycle_stage", "timezone"}

// Properties are the contact properties company members carry: the
// coverage properties and BridgeProperties, sorted.
func Properties(set *rules.Set) []string {
	props := set.RoleProperties()
	for _, b := range BridgeProperties {
		if !slices.Contains(props, b) {
			props = append(props, b)
		}
	}
	sort.Strings(props)
	return props
}

// RoleOf reads a coverage property from a contact snapshot: ok is false
// when the snapshot does not carry it (absent or null).
func RoleOf(contact map[string]any, property string) (string, bool) {
	v, ok := contact[property]
	if !ok || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return fmt.Sprint(v), true
}

// Members is the reference membership: every contact of evs (any order,
// duplicates allowed: the first of an id wins) as company models see it.
func Members(set *rules.Set, evs []events.Event) map[string]*Member {
	byContact := map[string][]events.Event{}
	for _, ev := range scoring.Dedup(evs) {
		byContact[ev.ContactID] = append(byContact[ev.ContactID], ev)
	}
	props := Properties(set)
	out := make(map[string]*Member, len(byContact))
	for id, list := range byContact {
		sort.Slice(list, func(i, j int) bool { return list[i].Before(&list[j]) })
		m := &Member{ContactID: id, Scores: map[string]rules.Points{}, Seq: uint32(len(list))}
		for i := range list {
			if list[i].CompanyID != "" {
				m.CompanyID = list[i].CompanyID
			}
			for _, p := range props {
				if r, ok := RoleOf(list[i].Contact, p); ok {
					if m.Props == nil {
						m.Props = map[string]string{}
					}
					m.Props[p] = r
				}
			}
		}
		latest := list[len(list)-1].OccurredAt
		for _, name := range set.FromModels() {
			m.Scores[name] = scoring.Evaluate(set.Model(name), list, latest).Score
		}
		out[id] = m
	}
	return out
}

// Score is a company's score in a company model, taken apart.
type Score struct {
	CompanyID string
	Model     string
	Score     rules.Points // Rollup + CoveragePoints, clamped
	Rollup    rules.Points
	// Contacts are the members, highest score first (ties by id), each
	// with whether it counts (score >= min_contact_score) and, for
	// avg_top_n, whether it is among the top n.
	Contacts       []ContactScore
	Coverage       []string // the configured roles present among counted contacts, sorted
	CoveragePoints rules.Points
	Counted        int // how many contacts count
}

// ContactScore is a member's part in a company score.
type ContactScore struct {
	ContactID string            `json:"contact_id"`
	Score     rules.Points      `json:"-"`
	Role      string            `json:"role,omitempty"`
	Owner     string            `json:"-"` // its owner_id
	Props     map[string]string `json:"-"` // its tracked contact properties
	Counted   bool              `json:"-"` // at or above min_contact_score
	InRollup  bool              `json:"-"` // counted, and for avg_top_n among the top n
}

// Evaluate computes a company's score in m from its members (contacts
// whose Member.CompanyID is companyID; others are ignored), as the
// semantics state it.
func Evaluate(m *rules.CompanyModel, companyID string, members []*Member) Score {
	s := Score{CompanyID: companyID, Model: m.Name}
	for _, mb := range members {
		if mb.CompanyID != companyID || companyID == "" {
			continue
		}
		cs := ContactScore{ContactID: mb.ContactID, Score: mb.Scores[m.From], Owner: mb.Props[OwnerProperty], Props: mb.Props}
		if m.Coverage != nil {
			cs.Role = mb.Props[m.Coverage.Property]
		}
		cs.Counted = cs.Score >= m.MinContactScore
		s.Contacts = append(s.Contacts, cs)
	}
	sortContacts(s.Contacts)
	var counted []rules.Points
	roles := map[string]bool{}
	for i := range s.Contacts {
		c := &s.Contacts[i]
		if !c.Counted {
			continue
		}
		counted = append(counted, c.Score)
		s.Counted++
		c.InRollup = m.Rollup != rules.RollupAvgTopN || len(counted) <= m.TopN
		if m.Coverage != nil {
			if _, ok := m.Coverage.Roles[c.Role]; ok && c.Role != "" {
				roles[c.Role] = true
			}
		}
	}
	s.Rollup = rollup(m, counted)
	for r := range roles {
		s.Coverage = append(s.Coverage, r)
		s.CoveragePoints += m.Coverage.Roles[r]
	}
	sort.Strings(s.Coverage)
	s.Score = m.Clamp(s.Rollup + s.CoveragePoints)
	return s
}

// sortContacts orders members highest score first, ties by id.
func sortContacts(cs []ContactScore) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Score != cs[j].Score {
			return cs[i].Score > cs[j].Score
		}
		return cs[i].ContactID < cs[j].ContactID
	})
}

// rollup combines counted scores, sorted highest first.
func rollup(m *rules.CompanyModel, counted []rules.Points) rules.Points {
	if len(counted) == 0 {
		return 0
	}
	switch m.Rollup {
	case rules.RollupMax:
		return counted[0]
	case rules.RollupAvgTopN:
		n := min(m.TopN, len(counted))
		var sum rules.Points
		for _, p := range counted[:n] {
			sum += p
		}
		return roundDiv(sum, rules.Points(n))
	}
	var sum rules.Points
	for _, p := range counted {
		sum += p
	}
	return sum
}

// roundDiv divides to the nearest micro-point, halves away from zero: a
// mean is exact to the micro-point and the same on every machine.
func roundDiv(a, b rules.Points) rules.Points {
	q, r := a/b, a%b
	if 2*abs(r) >= b {
		if a < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

func abs(p rules.Points) rules.Points {
	if p < 0 {
		return -p
	}
	return p
}

// Companies is the reference over a whole history: every company named
// by a member, in every company model, sorted by company then model.
func Companies(set *rules.Set, evs []events.Event) []Score {
	members := Members(set, evs)
	byCompany := map[string][]*Member{}
	for _, mb := range members {
		if mb.CompanyID != "" {
			byCompany[mb.CompanyID] = append(byCompany[mb.CompanyID], mb)
		}
	}
	ids := make([]string, 0, len(byCompany))
	for id := range byCompany {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []Score
	for _, id := range ids {
		for _, m := range set.Companies {
			out = append(out, Evaluate(m, id, byCompany[id]))
		}
	}
	return out
}

// Change is a contact score change as a company receives it: the
// contact's member view after one of its events, on the stream of the
// company it belongs to, and of the company it just left.
type Change struct {
	// To is the company whose stream carries the change.
	To string `json:"to"`
	Member
	EventID string    `json:"event_id"` // the contact event whose scoring made the change
	At      time.Time `json:"at"`       // its occurred_at
	// Forget, when set, is a deletion of the contact (the deletion's event
	// type): the company drops it. Member holds only the contact's id.
	Forget string `json:"forget,omitempty"`
}

// Key names the change in crossing ids: the contact and its event.
func (c *Change) Key() string { return c.ContactID + "\x00" + c.EventID }

// Crossing is a threshold reached by a company's score.
type Crossing struct {
	ID        string
	CompanyID string
	Model     string
	Threshold rules.Threshold
	Score     rules.Points
	At        time.Time // the causing event's occurred_at
	ContactID string    // the contact whose change caused it
	EventID   string
	Top       []ContactScore // the counted members, highest first (at most TopMembers)
}

// TopMembers bounds the members a crossing carries.
const TopMembers = 5

// CrossingID is deterministic: the same company, model, threshold and
// causing contact change always give the same id.
func CrossingID(companyID, model, threshold, contactID, eventID string) string {
	return events.CrossingID("company:"+companyID, model, threshold, contactID+"\x00"+eventID)
}

// Crossings is the reference for a company's crossings in m: it applies
// the changes its stream received, in the order received (a change not
// newer, by Seq, than the last applied for its contact is ignored; a
// deletion drops the contact), and
// after each takes the company's score; a threshold starts armed, fires
// and disarms when reached, and re-arms when the score falls below
// rearm_below. Quadratic: for tests.
func Crossings(m *rules.CompanyModel, companyID string, received []Change) []Crossing {
	out, _ := replay(m, companyID, received)
	return out
}

// Standing is the reference for where a company stands in m after the
// changes its stream received (as Crossings applies them): its score,
// which thresholds are disarmed and when each last fired.
func Standing(m *rules.CompanyModel, companyID string, received []Change) ModelState {
	_, st := replay(m, companyID, received)
	return st
}

func replay(m *rules.CompanyModel, companyID string, received []Change) ([]Crossing, ModelState) {
	view := map[string]*Member{}
	st := ModelState{Score: Evaluate(m, companyID, nil).Score, Disarmed: make([]bool, len(m.Thresholds)), CrossedAt: make([]int64, len(m.Thresholds))}
	var out []Crossing
	for _, ch := range received {
		if ch.To != companyID {
			continue
		}
		if ch.Forget != "" {
			if view[ch.ContactID] == nil {
				continue
			}
			delete(view, ch.ContactID)
		} else {
			if old := view[ch.ContactID]; old != nil && old.Seq >= ch.Seq {
				continue
			}
			mb := ch.Member
			view[ch.ContactID] = &mb
		}
		cause, event := ch.Cause()
		members := make([]*Member, 0, len(view))
		for _, v := range view {
			members = append(members, v)
		}
		s := Evaluate(m, companyID, members)
		if s.Score == st.Score {
			continue
		}
		st.Score = s.Score
		for k, th := range m.Thresholds {
			switch {
			case !st.Disarmed[k] && s.Score >= th.At:
				out = append(out, Crossing{
					ID: CrossingID(companyID, m.Name, th.Name, cause, event), CompanyID: companyID, Model: m.Name,
					Threshold: th, Score: s.Score, At: ch.At, ContactID: cause, EventID: event, Top: Top(s),
				})
				st.Disarmed[k] = true
				st.CrossedAt[k] = ch.At.UnixNano()
			case st.Disarmed[k] && s.Score < th.RearmBelow:
				st.Disarmed[k] = false
			}
		}
	}
	return out, st
}

// Top is a score's counted members, highest first, at most TopMembers.
func Top(s Score) []ContactScore {
	var out []ContactScore
	for _, c := range s.Contacts {
		if c.Counted && len(out) < TopMembers {
			out = append(out, c)
		}
	}
	return out
}
