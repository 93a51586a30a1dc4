package scoring

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// Contact is the incremental scoring state of one contact across every
// model: enough to give the exact score at any time from its latest event
// on, and to de-duplicate events, without keeping the events themselves.
type Contact struct {
	Latest   int64          // unix nanos of the latest counted event
	Count    uint32         // events counted
	Seen     []uint64       // sorted xxhash64 of every event id seen
	Scores   []rules.Points // per model, at Latest
	Plain    []PlainState
	Firsts   []FirstState
	Entries  []Entry // sorted by (group, time)
	Disarmed uint64  // bit per threshold (Engine.thresholdBase)
	// PruneAt is a time before which no entry can leave its window or
	// decay to nothing: pruning before it would find nothing to drop.
	PruneAt int64
}

// PlainState is a repeatable, unwindowed, undecayed group: a running sum.
type PlainState struct {
	Group uint32 // ref key
	N     uint32 // events counted
	Sum   rules.Points
}

// FirstState is a non-repeatable group's earliest match.
type FirstState struct {
	Group   uint32
	At      int64
	EventID string // ties on time go to the smaller id
	Points  rules.Points
}

// Entry is one match of a windowed or decaying group that still counts:
// 16 bytes, as one event's points fit 32 bits (rules.MaxEventPoints).
type Entry struct {
	At     int64
	Group  uint32
	Points int32 // micro-points
}

// seen records an id; it reports false when the id was already there.
func (c *Contact) see(id string) bool {
	h := xxhash.Sum64String(id)
	i, found := slices.BinarySearch(c.Seen, h)
	if found {
		return false
	}
	c.Seen = insert(c.Seen, i, h)
	return true
}

// Award is a group's match for one event: the points the rule gave.
type Award struct {
	Model, Group int
	Points       rules.Points
}

// GroupDelta is how much an event changed a group's clamped sum (or, with
// Group -1, the total clamp): the ledger rows that add up to a score.
type GroupDelta struct {
	Group int // -1: the total clamp
	Delta rules.Points
}

// ModelResult is one model's score after an event.
type ModelResult struct {
	Model   int
	Before  rules.Points // at the contact's previous latest time
	Score   rules.Points
	Changed bool
	Deltas  []GroupDelta // with Scorer.Ledger
}

// Hit is a threshold reached by this event.
type Hit struct {
	Model     int
	Threshold int
	Score     rules.Points
}

// Outcome is what one event did to a contact.
type Outcome struct {
	Duplicate bool // the id was seen before: nothing changed
	Future    bool // after the scorer's AsOf: seen, not counted
	Late      bool // older than the contact's latest event
	Awards    []Award
	Errors    []EvalError
	Models    []ModelResult
	Hits      []Hit
}

func (o *Outcome) reset() {
	*o = Outcome{Awards: o.Awards[:0], Errors: o.Errors[:0], Models: o.Models[:0], Hits: o.Hits[:0]}
}

// Scorer applies events to contacts. Not safe for concurrent use: one per
// goroutine over a shared Engine.
type Scorer struct {
	*Engine
	// AsOf, when not zero (unix nanos), ignores events after it (they are
	// still remembered as seen, as the semantics de-duplicate first).
	AsOf int64
	// Ledger asks for the per-group deltas of every event.
	Ledger bool

	eval   *rules.Evaluator
	out    Outcome
	before [][]rules.Points
	after  []rules.Points
}

// NewScorer returns a Scorer over e.
func NewScorer(e *Engine) *Scorer {
	return &Scorer{Engine: e, eval: rules.NewEvaluator()}
}

// Apply scores one event into c. The Outcome is reused by the next call.
func (s *Scorer) Apply(c *Contact, ev *events.Event) *Outcome {
	o := &s.out
	o.reset()
	if !c.see(ev.ID) {
		o.Duplicate = true
		return o
	}
	t := ev.OccurredAt.UnixNano()
	if s.AsOf != 0 && t > s.AsOf {
		o.Future = true
		return o
	}
	first := c.Count == 0
	c.Count++
	prev := c.Latest
	T := prev
	if t > T || first {
		T = t
	}
	o.Late = t < prev

	models := s.Rules.Models
	if s.Ledger && !first {
		s.before = s.before[:0]
		for mi := range models {
			s.before = append(s.before, s.groupValues(c, mi, prev, nil))
		}
	}
	if len(c.Scores) != len(models) {
		c.Scores = make([]rules.Points, len(models))
	}

	touched := uint64(0) // models with an award (first 64; the rest always recomputed)
	s.eval.Bind(ev)
	for _, r := range s.candidates(ev.Type) {
		g := s.group(r)
		ok, pts, err := s.eval.Match(g)
		if err != nil {
			o.Errors = append(o.Errors, EvalError{Model: models[r.model].Name, Group: g.Name, EventID: ev.ID, Err: err})
			continue
		}
		if !ok {
			continue
		}
		o.Awards = append(o.Awards, Award{Model: int(r.model), Group: int(r.group), Points: pts})
		if r.model < 64 {
			touched |= 1 << r.model
		}
		s.add(c, r, ev, t, T, pts)
	}
	c.Latest = T
	s.prune(c, T)

	for mi, m := range models {
		mr := ModelResult{Model: mi, Before: c.Scores[mi]}
		unchanged := !first && mi < 64 && touched&(1<<mi) == 0 && (T == prev || !s.timeDependent[mi])
		if unchanged {
			mr.Score = mr.Before
		} else {
			mr.Score = s.score(c, mi, T)
			mr.Changed = mr.Score != mr.Before || first
			c.Scores[mi] = mr.Score
		}
		if s.Ledger && !unchanged {
			mr.Deltas = s.deltas(c, mi, T, first)
		}
		o.Models = append(o.Models, mr)
		if unchanged && !first {
			continue
		}
		base := s.thresholdBase[mi]
		for k, th := range m.Thresholds {
			bit := uint64(1) << (base + k)
			switch {
			case c.Disarmed&bit == 0 && mr.Score >= th.At:
				o.Hits = append(o.Hits, Hit{Model: mi, Threshold: k, Score: mr.Score})
				c.Disarmed |= bit
			case c.Disarmed&bit != 0 && mr.Score < th.RearmBelow:
				c.Disarmed &^= bit
			}
		}
	}
	return o
}

// add records a match of group r at time t (T: the contact's latest time).
func (s *Scorer) add(c *Contact, r ref, ev *events.Event, t, T int64, pts rules.Points) {
	key := r.key()
	m := s.Rules.Models[r.model]
	g := m.Groups[r.group]
	switch s.kinds[r.model][r.group] {
	case plain:
		i := 0
		for i < len(c.Plain) && c.Plain[i].Group < key {
			i++
		}
		if i == len(c.Plain) || c.Plain[i].Group != key {
			c.Plain = append(c.Plain, PlainState{})
			copy(c.Plain[i+1:], c.Plain[i:])
			c.Plain[i] = PlainState{Group: key}
		}
		c.Plain[i].N++
		c.Plain[i].Sum += pts
	case first:
		i := 0
		for i < len(c.Firsts) && c.Firsts[i].Group < key {
			i++
		}
		if i == len(c.Firsts) || c.Firsts[i].Group != key {
			c.Firsts = append(c.Firsts, FirstState{})
			copy(c.Firsts[i+1:], c.Firsts[i:])
		} else if f := c.Firsts[i]; f.At < t || (f.At == t && f.EventID < ev.ID) {
			return // an earlier match already holds the group
		}
		c.Firsts[i] = FirstState{Group: key, At: t, EventID: ev.ID, Points: pts}
	case listed:
		if !inWindow(g, t, T) {
			return
		}
		if v, _ := contribution(m, pts, t, T); v == 0 && pts != 0 {
			return
		}
		i := len(c.Entries) // entries mostly arrive in time order: search from the end
		for i > 0 && (c.Entries[i-1].Group > key || c.Entries[i-1].Group == key && c.Entries[i-1].At > t) {
			i--
		}
		c.Entries = insert(c.Entries, i, Entry{Group: key, At: t, Points: int32(pts)})
		c.PruneAt = min(c.PruneAt, s.expiry(m, g, t, pts))
		if !m.Decays() {
			c.Entries = trimCapped(c.Entries, key, g)
		}
	}
}

// trimCapped drops matches of a capped window that can never count. When
// a group's points all share a sign and its newest matches already reach
// its cap, an older match changes nothing: whenever it is inside the
// window, so are the newer ones, and the sum is clamped to the cap anyway.
// Exact, and it bounds the state of noisy capped groups (e-mail opens) by
// cap / points entries.
func trimCapped(entries []Entry, key uint32, g *rules.Group) []Entry {
	limit := g.Max
	if limit == nil || g.PointsSign() <= 0 {
		limit = g.Min
		if limit == nil || g.PointsSign() >= 0 {
			return entries
		}
	}
	lo := 0
	for lo < len(entries) && entries[lo].Group < key {
		lo++
	}
	hi := lo
	for hi < len(entries) && entries[hi].Group == key {
		hi++
	}
	var sum rules.Points
	for i := hi - 1; i > lo; i-- {
		sum += rules.Points(entries[i].Points)
		if sum >= *limit && *limit >= 0 || sum <= *limit && *limit <= 0 {
			// entries[i:hi] reach the cap: entries[lo:i] never count.
			return append(entries[:lo], entries[i:]...)
		}
	}
	return entries
}

// insert puts v at i, growing by a quarter rather than doubling: states
// are many and small, and doubling leaves a third of them empty.
func insert[T any](s []T, i int, v T) []T {
	if len(s) == cap(s) {
		grown := make([]T, len(s), len(s)+len(s)/4+2)
		copy(grown, s)
		s = grown
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// prune drops entries that can no longer count at T or any later time:
// outside their window, or decayed to nothing (a contribution only shrinks
// as T grows).
func (s *Scorer) prune(c *Contact, T int64) {
	if T < c.PruneAt || len(c.Entries) == 0 {
		return
	}
	next := int64(math.MaxInt64)
	out := c.Entries[:0]
	for _, e := range c.Entries {
		m := s.Rules.Models[e.Group>>16]
		g := m.Groups[e.Group&0xffff]
		if !inWindow(g, e.At, T) {
			continue
		}
		if v, _ := contribution(m, rules.Points(e.Points), e.At, T); v == 0 && e.Points != 0 {
			continue
		}
		out = append(out, e)
		next = min(next, s.expiry(m, g, e.At, rules.Points(e.Points)))
	}
	c.Entries = out
	c.PruneAt = next
}

// expiry is a time before which a match at t cannot leave the window nor
// decay to nothing. The decay bound is taken a little early (a second per
// half-life of margin over the float arithmetic): prune checks exactly.
func (s *Scorer) expiry(m *rules.Model, g *rules.Group, t int64, pts rules.Points) int64 {
	at := int64(math.MaxInt64)
	if g.Window > 0 {
		at = t + int64(g.Window)
	}
	if m.Decays() && pts != 0 {
		// |pts| x 2^-(age/h) < 0.5 once age > h x log2(2|pts|).
		halfLives := math.Log2(2 * math.Abs(float64(pts)))
		age := int64(float64(m.HalfLife)*halfLives) - int64(halfLives+1)*int64(time.Second)
		at = min(at, t+max(age, 0))
	}
	return at
}

// Score is model mi's score for c at T (T >= c.Latest). A contact with no
// counted event scores 0 (clamped).
func (s *Scorer) Score(c *Contact, mi int, T int64) rules.Points { return s.score(c, mi, T) }

func (s *Scorer) score(c *Contact, mi int, T int64) rules.Points {
	m := s.Rules.Models[mi]
	if c == nil {
		return m.Clamp(0)
	}
	var total rules.Points
	s.eachGroup(c, mi, T, func(g int, sum rules.Points) { total += sum })
	return m.Clamp(total)
}

// GroupSums calls fn with the clamped sum of every group of model mi that
// has a counted event at T.
func (s *Scorer) GroupSums(c *Contact, mi int, T int64, fn func(group int, sum rules.Points)) {
	s.eachGroup(c, mi, T, fn)
}

// eachGroup visits the groups of model mi with a counted event at T, in
// no particular order, with their clamped sums.
func (s *Scorer) eachGroup(c *Contact, mi int, T int64, fn func(g int, sum rules.Points)) {
	m := s.Rules.Models[mi]
	lo, hi := uint32(mi)<<16, uint32(mi+1)<<16
	i := sort.Search(len(c.Plain), func(i int) bool { return c.Plain[i].Group >= lo })
	for ; i < len(c.Plain) && c.Plain[i].Group < hi; i++ {
		p := c.Plain[i]
		fn(int(p.Group&0xffff), m.Groups[p.Group&0xffff].Clamp(p.Sum))
	}
	i = sort.Search(len(c.Firsts), func(i int) bool { return c.Firsts[i].Group >= lo })
	for ; i < len(c.Firsts) && c.Firsts[i].Group < hi; i++ {
		f := c.Firsts[i]
		g := m.Groups[f.Group&0xffff]
		if !inWindow(g, f.At, T) {
			continue
		}
		v, _ := contribution(m, f.Points, f.At, T)
		if v == 0 && f.Points != 0 {
			continue
		}
		fn(int(f.Group&0xffff), g.Clamp(v))
	}
	i = sort.Search(len(c.Entries), func(i int) bool { return c.Entries[i].Group >= lo })
	for i < len(c.Entries) && c.Entries[i].Group < hi {
		key := c.Entries[i].Group
		g := m.Groups[key&0xffff]
		var sum rules.Points
		n := 0
		for ; i < len(c.Entries) && c.Entries[i].Group == key; i++ {
			e := c.Entries[i]
			if !inWindow(g, e.At, T) {
				continue
			}
			v, _ := contribution(m, rules.Points(e.Points), e.At, T)
			if v == 0 && e.Points != 0 {
				continue
			}
			sum += v
			n++
		}
		if n > 0 {
			fn(int(key&0xffff), g.Clamp(sum))
		}
	}
}

// groupValues fills dst (indexed by group) with the clamped group sums of
// model mi at T.
func (s *Scorer) groupValues(c *Contact, mi int, T int64, dst []rules.Points) []rules.Points {
	n := len(s.Rules.Models[mi].Groups)
	if cap(dst) < n {
		dst = make([]rules.Points, n)
	}
	dst = dst[:n]
	clear(dst)
	s.eachGroup(c, mi, T, func(g int, sum rules.Points) { dst[g] = sum })
	return dst
}

// deltas are the ledger rows of model mi for the event just applied: the
// change of each group's clamped sum, and of the total clamp, since the
// previous event. Summed over a contact's events they give its score.
func (s *Scorer) deltas(c *Contact, mi int, T int64, first bool) []GroupDelta {
	m := s.Rules.Models[mi]
	s.after = s.groupValues(c, mi, T, s.after)
	var before []rules.Points
	if !first {
		before = s.before[mi]
	}
	var out []GroupDelta
	var rawBefore, rawAfter rules.Points
	for g := range s.after {
		var b rules.Points
		if before != nil {
			b = before[g]
		}
		rawBefore += b
		rawAfter += s.after[g]
		if d := s.after[g] - b; d != 0 {
			out = append(out, GroupDelta{Group: g, Delta: d})
		}
	}
	clampBefore := m.Clamp(rawBefore) - rawBefore
	clampAfter := m.Clamp(rawAfter) - rawAfter
	if d := clampAfter - clampBefore; d != 0 {
		out = append(out, GroupDelta{Group: -1, Delta: d})
	}
	return out
}
