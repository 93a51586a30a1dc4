package accounts

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/btree"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// Tracker is a contact's membership as its events arrive: the company and
// roles of its latest events that carry them, whatever the arrival order.
// It is what the scorer keeps per contact beside its scoring state.
type Tracker struct {
	Company Keyed            `json:"company"`
	Props   map[string]Keyed `json:"props,omitempty"`
	// Sent lists the companies the contact has sent a change to (each
	// keeps its view of the contact, members and contacts that left). A
	// deletion no longer depends on it (it reaches every company, see
	// Forget); it is kept so that a scorer rolled back to a version that
	// sends deletions where the tracker says still reaches them.
	Sent []string `json:"sent,omitempty"`
}

// sent remembers that a change went to company.
func (t *Tracker) sent(company string) {
	if !slices.Contains(t.Sent, company) {
		t.Sent = append(t.Sent, company)
	}
}

// Reached are the companies the tracker knows to hold a view of the
// contact: those it sent a change to (a tracker saved before Sent existed
// knows only its current company).
func (t *Tracker) Reached() []string {
	out := slices.Clone(t.Sent)
	if c := t.Company.Value; c != "" && !slices.Contains(out, c) {
		out = append(out, c)
	}
	return out
}

// Keyed is a value and the event (occurred_at, id) it came from.
type Keyed struct {
	Value   string `json:"v"`
	At      int64  `json:"at,omitempty"`
	EventID string `json:"id,omitempty"`
}

func (k *Keyed) offer(v string, ev *events.Event) bool {
	t := ev.OccurredAt.UnixNano()
	if k.EventID != "" && (t < k.At || t == k.At && ev.ID <= k.EventID) {
		return false
	}
	changed := k.Value != v
	*k = Keyed{Value: v, At: t, EventID: ev.ID}
	return changed
}

// Observe takes an event's company and roles into account; it reports
// whether the contact's company or a role changed. Observing an event
// twice changes nothing.
func (t *Tracker) Observe(props []string, ev *events.Event) bool {
	changed := false
	if ev.CompanyID != "" {
		changed = t.Company.offer(ev.CompanyID, ev)
	}
	for _, p := range props {
		r, ok := RoleOf(ev.Contact, p)
		if !ok {
			continue
		}
		if t.Props == nil {
			t.Props = map[string]Keyed{}
		}
		k := t.Props[p]
		if k.offer(r, ev) {
			changed = true
		}
		t.Props[p] = k
	}
	return changed
}

// Member is the contact's member view under set, with its scores.
func (t *Tracker) Member(contactID string, seq uint32, scores map[string]rules.Points) Member {
	m := Member{ContactID: contactID, CompanyID: t.Company.Value, Scores: scores, Seq: seq}
	for p, k := range t.Props {
		if m.Props == nil {
			m.Props = map[string]string{}
		}
		m.Props[p] = k.Value
	}
	return m
}

// Changes are the changes one event of a contact sends: to the company it
// belongs to and, when it just moved, to the one it left. None when it
// belongs to no company.
func Changes(m Member, left string, ev *events.Event) []Change {
	var out []Change
	if left != "" && left != m.CompanyID {
		out = append(out, Change{To: left, Member: m, EventID: ev.ID, At: ev.OccurredAt})
	}
	if m.CompanyID != "" {
		out = append(out, Change{To: m.CompanyID, Member: m, EventID: ev.ID, At: ev.OccurredAt})
	}
	return out
}

// Forget is the change a deletion of the contact sends: one for every
// company, whatever the contact's tracker lists (To is empty; the scorer
// sets the contact's current company, which an aggregator of an older
// scorer takes it for). The scorer sends it to every partition of the
// company topic, and each company aggregator drops the contact from every
// company it holds, so a company the tracker does not know of (a tracker
// saved by an older scorer, or lost) is reached too. kind is the deletion's event type
// (contact_deleted or privacy_deleted); at its time. A privacy deletion
// carries no event id (Cause).
func Forget(contactID, kind, eventID string, at time.Time) Change {
	ch := Change{Member: Member{ContactID: contactID}, Forget: kind, At: at}
	if kind != PrivacyDeleted {
		ch.EventID = eventID
	}
	return ch
}

// PrivacyDeleted is the event type of a privacy deletion: a company drops
// the contact and names it nowhere afterwards (not as the cause of a
// score change or a crossing).
const PrivacyDeleted = "privacy_deleted"

// Cause is the (contact, event) a change is recorded under: in crossing
// ids, crossings and company score rows. A privacy deletion names neither
// the contact nor its event: it is recorded under no contact and an event
// key made of its time.
func (c *Change) Cause() (contactID, eventID string) {
	if c.Forget == PrivacyDeleted {
		return "", "erased@" + strconv.FormatInt(c.At.UnixNano(), 10)
	}
	return c.ContactID, c.EventID
}

// FromScores reads, from an event's scoring outcome, the scores of the
// contact models company models roll up; changed says whether one moved.
func FromScores(set *rules.Set, from []int, o *scoring.Outcome) (scores map[string]rules.Points, changed bool) {
	scores = make(map[string]rules.Points, len(from))
	for _, mi := range from {
		mr := o.Models[mi]
		scores[set.Models[mi].Name] = mr.Score
		changed = changed || mr.Changed
	}
	return scores, changed
}

// FromIndexes are the indexes in set.Models of the company models' from
// models.
func FromIndexes(set *rules.Set) []int {
	var out []int
	for mi, m := range set.Models {
		for _, name := range set.FromModels() {
			if m.Name == name {
				out = append(out, mi)
			}
		}
	}
	return out
}

// Aggregate is the live state of one company: its latest view of every
// contact that sent it a change (members, and contacts that left, kept so
// that a stale change cannot bring them back), and per company model its
// score and disarmed thresholds.
type Aggregate struct {
	CompanyID string                 `json:"company_id"`
	Contacts  map[string]*Member     `json:"contacts"`
	Models    map[string]*ModelState `json:"models"`
	// Latest is the latest occurred_at (Unix ns) of the changes applied: the
	// time the company-scores message says the scores are as of. 0 in
	// states saved before it was kept, until the next change.
	Latest int64 `json:"latest,omitempty"`
	// rollups keeps, per company model, its running rollup, so a change
	// costs the contact it moves, not the company's members.
	rollups map[string]*running
}

// running is a company model's figures kept as changes arrive: the members,
// the counted members ordered as Evaluate orders them (highest score
// first, ties by id), their sum and, per configured role, how many
// counted members have it. Every rollup (sum, max, avg_top_n) and the
// top members are read from it exactly.
type running struct {
	model   *rules.CompanyModel // the rules it was built for (a reload rebuilds it)
	members int
	sum     rules.Points
	counted *btree.BTreeG[ranked]
	roles   map[string]int
	// synced is set once Apply has brought the model's standing to the
	// rollup's score.
	synced bool
}

// ranked is a counted member in a rollup's order.
type ranked struct {
	score rules.Points
	id    string
}

func rankedLess(a, b ranked) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.id < b.id
}

// belongs reports whether mb is a member of the company.
func (a *Aggregate) belongs(mb *Member) bool {
	return mb != nil && a.CompanyID != "" && mb.CompanyID == a.CompanyID
}

// part is a contact's part in m's rollup of the company: ok is false when
// it is not a counted member; role is its role when coverage pays for it.
func (a *Aggregate) part(m *rules.CompanyModel, mb *Member) (score rules.Points, role string, ok bool) {
	if !a.belongs(mb) {
		return 0, "", false
	}
	score = mb.Scores[m.From]
	if score < m.MinContactScore {
		return 0, "", false
	}
	if m.Coverage != nil {
		role = mb.Props[m.Coverage.Property]
		if _, paid := m.Coverage.Roles[role]; !paid {
			role = ""
		}
	}
	return score, role, true
}

// take adds (sign 1) or removes (sign -1) a contact's view.
func (a *Aggregate) take(r *running, mb *Member, sign int) {
	if !a.belongs(mb) {
		return
	}
	r.members += sign
	score, role, ok := a.part(r.model, mb)
	if !ok {
		return
	}
	r.sum += rules.Points(sign) * score
	if sign > 0 {
		r.counted.ReplaceOrInsert(ranked{score, mb.ContactID})
	} else {
		r.counted.Delete(ranked{score, mb.ContactID})
	}
	if role != "" {
		r.roles[role] += sign
		if r.roles[role] == 0 {
			delete(r.roles, role)
		}
	}
}

// rollupFor is m's running rollup, built from the members when missing or
// built for other rules. The Contacts map must change only through Apply
// once a rollup is built.
func (a *Aggregate) rollupFor(m *rules.CompanyModel) *running {
	if r := a.rollups[m.Name]; r != nil && r.model == m {
		return r
	}
	r := &running{model: m, counted: btree.NewG(16, rankedLess), roles: map[string]int{}}
	for _, mb := range a.Contacts {
		a.take(r, mb, 1)
	}
	if a.rollups == nil {
		a.rollups = map[string]*running{}
	}
	a.rollups[m.Name] = r
	return r
}

// score is the company's score in its model from the running rollup:
// Evaluate's figures but Contacts.
func (r *running) score(companyID string) Score {
	m := r.model
	s := Score{CompanyID: companyID, Model: m.Name, Counted: r.counted.Len()}
	switch m.Rollup {
	case rules.RollupMax:
		if top, ok := r.counted.Min(); ok {
			s.Rollup = top.score
		}
	case rules.RollupAvgTopN:
		var sum rules.Points
		n := 0
		r.counted.Ascend(func(c ranked) bool {
			if n == m.TopN {
				return false
			}
			sum += c.score
			n++
			return true
		})
		if n > 0 {
			s.Rollup = roundDiv(sum, rules.Points(n))
		}
	default:
		s.Rollup = r.sum
	}
	for role := range r.roles {
		s.Coverage = append(s.Coverage, role)
		s.CoveragePoints += m.Coverage.Roles[role]
	}
	sort.Strings(s.Coverage)
	s.Score = m.Clamp(s.Rollup + s.CoveragePoints)
	return s
}

// top is Top of Evaluate's score: the counted members, highest first, at
// most TopMembers.
func (a *Aggregate) top(r *running) []ContactScore {
	m := r.model
	var out []ContactScore
	r.counted.Ascend(func(c ranked) bool {
		if len(out) == TopMembers {
			return false
		}
		mb := a.Contacts[c.id]
		cs := ContactScore{ContactID: c.id, Score: c.score, Owner: mb.Props[OwnerProperty], Props: mb.Props, Counted: true,
			InRollup: m.Rollup != rules.RollupAvgTopN || len(out) < m.TopN}
		if m.Coverage != nil {
			cs.Role = mb.Props[m.Coverage.Property]
		}
		out = append(out, cs)
		return true
	})
	return out
}

// Figures are a company's figures in one company model, as the
// company-scores message states them.
type Figures struct {
	Score   Score // Evaluate's, but Contacts (nil)
	Members int   // contacts that belong to the company
	Top     []ContactScore
}

// Figures are the company's figures in m from its running rollup: what
// Evaluate over the members gives, at the cost of the top members.
func (a *Aggregate) Figures(m *rules.CompanyModel) Figures {
	r := a.rollupFor(m)
	return Figures{Score: r.score(a.CompanyID), Members: r.members, Top: a.top(r)}
}

// Moves reports whether applying ch may change the company's standing in
// one of models, or its figures as the company-scores message shows them
// (all but the top members' owner and properties): false when the contact neither belongs to
// the company before and after, nor changes its part in any model (as
// counted, its score and role), and every model's standing is in step
// with its rollup. A stale change moves nothing.
func (a *Aggregate) Moves(models []*rules.CompanyModel, ch *Change) bool {
	old := a.Contacts[ch.ContactID]
	var mb *Member
	if ch.Forget == "" {
		if old != nil && old.Seq >= ch.Seq {
			return false
		}
		mb = &ch.Member
	} else if old == nil {
		return false
	}
	for _, m := range models {
		r, st := a.rollups[m.Name], a.Models[m.Name]
		if r == nil || r.model != m || !r.synced || st == nil || len(st.Disarmed) != len(m.Thresholds) {
			return true
		}
	}
	was, is := a.belongs(old), a.belongs(mb)
	if was != is {
		return true
	}
	if !was {
		return false
	}
	for _, m := range models {
		s1, _, c1 := a.part(m, old)
		s2, _, c2 := a.part(m, mb)
		if c1 != c2 || c1 && (s1 != s2 || m.Coverage != nil && old.Props[m.Coverage.Property] != mb.Props[m.Coverage.Property]) {
			return true
		}
	}
	return false
}

// ModelState is a company's standing in one company model.
type ModelState struct {
	Score    rules.Points `json:"score"`
	Disarmed []bool       `json:"disarmed,omitempty"`
	// CrossedAt is, per threshold, when it last fired (the causing
	// event's occurred_at, Unix ns); 0 when never, or before it was kept.
	CrossedAt []int64 `json:"crossed_at,omitempty"`
}

// Past is the highest threshold the company is past (fired and not
// re-armed) and when it fired (0 when not known); ok is false when none.
func (st *ModelState) Past() (k int, at int64, ok bool) {
	for k := len(st.Disarmed) - 1; k >= 0; k-- {
		if st.Disarmed[k] {
			if k < len(st.CrossedAt) {
				at = st.CrossedAt[k]
			}
			return k, at, true
		}
	}
	return 0, 0, false
}

// NewAggregate is a company that has received nothing.
func NewAggregate(companyID string) *Aggregate {
	return &Aggregate{CompanyID: companyID, Contacts: map[string]*Member{}, Models: map[string]*ModelState{}}
}

// Members are the contacts whose latest change names this company.
func (a *Aggregate) Members() []*Member {
	out := make([]*Member, 0, len(a.Contacts))
	for _, m := range a.Contacts {
		if m.CompanyID == a.CompanyID {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContactID < out[j].ContactID })
	return out
}

// Apply takes one received change: a stale one (not newer by Seq than the
// contact's last) changes nothing; otherwise every company model's score
// is taken again and, where it changed, its thresholds are evaluated as
// Crossings states. It returns the crossings and the scores that changed.
//
// A deletion (Change.Forget) drops the contact from the company's view,
// whatever its Seq: a contact deleted and started again (a plain deletion
// followed by a later event) counts its events from one again.
//
// Every model's score comes from its running rollup (the contact's old
// view out, its new view in), not from Evaluate over the members.
func (a *Aggregate) Apply(models []*rules.CompanyModel, ch *Change) (crossings []Crossing, changed []Score) {
	old := a.Contacts[ch.ContactID]
	if ch.Forget != "" {
		if old == nil {
			return nil, nil
		}
	} else if old != nil && old.Seq >= ch.Seq {
		return nil, nil
	}
	var mb *Member
	if ch.Forget == "" {
		m := ch.Member
		mb = &m
	}
	for _, m := range models {
		r := a.rollupFor(m)
		a.take(r, old, -1)
		a.take(r, mb, 1)
	}
	if mb == nil {
		delete(a.Contacts, ch.ContactID)
	} else {
		a.Contacts[ch.ContactID] = mb
	}
	a.Latest = max(a.Latest, ch.At.UnixNano())
	cause, event := ch.Cause()
	for _, m := range models {
		st := a.Models[m.Name]
		if st == nil {
			st = &ModelState{Score: m.Clamp(0)}
			a.Models[m.Name] = st
		}
		if len(st.Disarmed) != len(m.Thresholds) {
			st.Disarmed = make([]bool, len(m.Thresholds))
			st.CrossedAt = nil
		}
		if len(st.CrossedAt) != len(m.Thresholds) {
			st.CrossedAt = make([]int64, len(m.Thresholds))
		}
		r := a.rollups[m.Name]
		r.synced = true
		s := r.score(a.CompanyID)
		if s.Score == st.Score {
			continue
		}
		st.Score = s.Score
		changed = append(changed, s)
		for k, th := range m.Thresholds {
			switch {
			case !st.Disarmed[k] && s.Score >= th.At:
				crossings = append(crossings, Crossing{
					ID: CrossingID(a.CompanyID, m.Name, th.Name, cause, event), CompanyID: a.CompanyID, Model: m.Name,
					Threshold: th, Score: s.Score, At: ch.At, ContactID: cause, EventID: event, Top: a.top(r),
				})
				st.Disarmed[k] = true
				st.CrossedAt[k] = ch.At.UnixNano()
			case st.Disarmed[k] && s.Score < th.RearmBelow:
				st.Disarmed[k] = false
			}
		}
	}
	return crossings, changed
}
