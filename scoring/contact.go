package scoring

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// Contact is the incremental scoring state of one contact across every
// model: enough to give the exact score at any time from its latest event
// on, and to de-duplicate events, without keeping the events themselves.
//
// Scoring is bound by memory latency, not arithmetic: with many contacts
// each event's state is cold, and every separately allocated piece is one
// more cache miss. So everything an ordinary event touches lives in one
// arena of words, in sections whose sizes the header keeps:
//
//	pruneAt  1 word: a time before which no entry can leave its window or
//	         decay to nothing: pruning before it would find nothing to drop
//	models   1 word per model: for a model that does not decay, the sum
//	         of its plain and windowed groups' clamped sums, kept as events
//	         add and prune change it, so that a score is not re-summed
//	         every event; for a decaying model, the score at Latest
//	plain    2 words each, sorted by group: key<<32 | events counted, sum
//	entries  2 words each, sorted by (group, time): time, key<<32 | points
//	seen     the rest, sorted: xxhash64 of every event id seen
//
// Seen comes last as it grows with every event: an insertion there moves
// only its own tail. Non-repeatable groups' first matches keep their event
// ids (strings) apart: they are rare.
//
// The struct itself is 64 bytes, one cache line when the allocator's 64-byte
// class aligns it (pruneAt lives in the arena to fit): at 72 it would take
// the 80-byte class and straddle two lines.
type Contact struct {
	Latest   int64  // unix nanos of the latest counted event
	Disarmed uint64 // bit per threshold (Engine.thresholdBase)
	Count    uint32 // events counted

	nScores, nPlain, nEntries uint32
	arena                     []uint64
	rare                      *rareState // nil until a first match or a crossing
}

// rareState is what few contacts need, kept out of the hot struct: the
// first matches of non-repeatable groups, and when each threshold now
// disarmed was crossed (what `lead-scores` reports as crossed_at).
type rareState struct {
	firsts  []FirstState
	crossed []crossedAt // sorted by bit
}

// crossedAt is when the threshold of a disarmed bit was crossed (unix
// nanos; 0 when the state was saved before crossing times were kept).
type crossedAt struct {
	bit uint8
	at  int64
}

// Reset empties c as if it were new, keeping its arena's memory for what
// is scored into it next: a backtest that scores its contacts one after
// the other, done with each before the next, then scores them all in one
// state that stays in the CPU's cache, rather than growing a state each.
// Nothing of c before Reset is valid after it.
func (c *Contact) Reset() { *c = Contact{arena: c.arena[:0]} }

func (c *Contact) rareOf() *rareState {
	if c.rare == nil {
		c.rare = &rareState{}
	}
	return c.rare
}

// setCrossed records that bit's threshold was crossed at t.
func (c *Contact) setCrossed(bit int, t int64) {
	r := c.rareOf()
	i := 0
	for i < len(r.crossed) && int(r.crossed[i].bit) < bit {
		i++
	}
	if i < len(r.crossed) && int(r.crossed[i].bit) == bit {
		r.crossed[i].at = t
		return
	}
	r.crossed = slices.Insert(r.crossed, i, crossedAt{uint8(bit), t})
}

// clearCrossed forgets bit's crossing time: its threshold re-armed.
func (c *Contact) clearCrossed(bit int) {
	if c.rare == nil {
		return
	}
	c.rare.crossed = slices.DeleteFunc(c.rare.crossed, func(x crossedAt) bool { return int(x.bit) == bit })
}

// crossedTime is when bit's threshold was crossed, 0 when unknown.
func (c *Contact) crossedTime(bit int) int64 {
	if c.rare == nil {
		return 0
	}
	for _, x := range c.rare.crossed {
		if int(x.bit) == bit {
			return x.at
		}
	}
	return 0
}

// Armed is the highest threshold of model mi that c is past (crossed and
// not re-armed) and when it was crossed (unix nanos, 0 when the state
// predates crossing times); ok is false when c is past none.
func (e *Engine) Armed(c *Contact, mi int) (threshold int, at int64, ok bool) {
	base := e.thresholdBase[mi]
	for k := len(e.Rules.Models[mi].Thresholds) - 1; k >= 0; k-- {
		if c.Disarmed&(1<<(base+k)) != 0 {
			return k, c.crossedTime(base + k), true
		}
	}
	return 0, 0, false
}

// FirstState is a non-repeatable group's earliest match.
type FirstState struct {
	Group   uint32
	At      int64
	EventID string // ties on time go to the smaller id
	Points  rules.Points
}

// Section offsets in the arena, in words. An empty arena (a contact that
// has seen nothing) has no pruneAt word either.
func (c *Contact) scoresAt() int  { return min(len(c.arena), 1) }
func (c *Contact) plainAt() int   { return c.scoresAt() + int(c.nScores) }
func (c *Contact) entriesAt() int { return c.plainAt() + 2*int(c.nPlain) }
func (c *Contact) seenAt() int    { return c.entriesAt() + 2*int(c.nEntries) }

func (c *Contact) plainWords() []uint64 {
	at := c.plainAt()
	return c.arena[at : at+2*int(c.nPlain)]
}

func (c *Contact) entryWords() []uint64 {
	at := c.entriesAt()
	return c.arena[at : at+2*int(c.nEntries)]
}

// modelWord is model mi's word: its groups total, or if it decays its
// score at Latest.
func (c *Contact) modelWord(mi int) rules.Points { return rules.Points(c.arena[1+mi]) }

func (c *Contact) addToTotal(mi int, d rules.Points) {
	c.arena[1+mi] = uint64(c.modelWord(mi) + d)
}

func (c *Contact) pruneAt() int64 { return int64(c.arena[0]) }

func (c *Contact) firstList() []FirstState {
	if c.rare == nil {
		return nil
	}
	return c.rare.firsts
}

// open makes room for n words at i, growing the arena by a quarter rather
// than doubling: states are many and small, and doubling would leave a
// third of them empty. At least 8 words, or a young contact would
// reallocate every event or two. The outgrown arena goes back to free
// (nil: to the garbage collector), so nothing may keep a slice of it.
func (c *Contact) open(i, n int, free *arenas) {
	l := len(c.arena)
	if l+n > cap(c.arena) {
		grown := free.get(l + n + max((l+n)/4, 8))[:l]
		copy(grown, c.arena)
		free.put(c.arena)
		c.arena = grown
	}
	c.arena = c.arena[:l+n]
	copy(c.arena[i+n:], c.arena[i:l])
	clear(c.arena[i : i+n])
}

// cut removes n words at i.
func (c *Contact) cut(i, n int) {
	if n == 0 {
		return
	}
	l := len(c.arena)
	copy(c.arena[i:], c.arena[i+n:])
	c.arena = c.arena[:l-n]
}

// fit sizes c's per-model words for the scorer's models, recounting them
// (a contact first scored, or scored under another rule set, has none).
func (s *Scorer) fit(c *Contact) {
	n := len(s.Rules.Models)
	if int(c.nScores) == n {
		return
	}
	c.cut(1, int(c.nScores))
	c.open(1, n, &s.free)
	c.nScores = uint32(n)
	for mi := range n {
		s.recount(c, mi)
	}
}

// recount sets model mi's word from the groups themselves.
func (s *Scorer) recount(c *Contact, mi int) {
	if s.Rules.Models[mi].Decays() {
		c.arena[1+mi] = uint64(s.score(c, mi, c.Latest))
	} else {
		c.arena[1+mi] = uint64(s.groupsSum(c, mi, c.Latest))
	}
}

// see records an id; it reports false when the id was already there.
func (c *Contact) see(id string, free *arenas) bool {
	h := xxhash.Sum64String(id)
	if len(c.arena) == 0 {
		c.open(0, 1, free) // pruneAt: 0, prune at the first chance
	}
	at := c.seenAt()
	i, found := searchHashes(c.arena[at:], h)
	if found {
		return false
	}
	c.open(at+i, 1, free)
	c.arena[at+i] = h
	return true
}

// searchHashes is slices.BinarySearch for a sorted slice of hashes, which
// are spread evenly over the 64-bit range: among n of them, a hash h sits
// near position h*n/2^64, so the search starts there and usually ends in
// that cache line. A binary search from the middle touches a line or two more
// of a cold arena, one after the other. (By hand: no library searches
// with this guess.) Far from the guess it falls back to a binary search.
func searchHashes(s []uint64, h uint64) (int, bool) {
	n := len(s)
	if n == 0 {
		return 0, false
	}
	guess, _ := bits.Mul64(h, uint64(n)) // in [0, n)
	i := int(guess)
	const near = 8
	if s[i] < h {
		for end := min(i+near, n); i < end; i++ {
			if s[i] >= h {
				return i, s[i] == h
			}
		}
		if i == n {
			return n, false
		}
		j, found := slices.BinarySearch(s[i:], h)
		return i + j, found
	}
	for stop := max(i-near, 0); i > stop; i-- {
		if s[i-1] < h {
			return i, s[i] == h
		}
	}
	if i == 0 {
		return 0, s[0] == h
	}
	return slices.BinarySearch(s[:i+1], h)
}

// Plain words: a repeatable, unwindowed, undecayed group's running sum.
func plainKey(w []uint64, i int) uint32       { return uint32(w[2*i] >> 32) }
func plainSum(w []uint64, i int) rules.Points { return rules.Points(w[2*i+1]) }

// Entry words: one match of a windowed or decaying group that still
// counts; one event's points fit 32 bits (rules.MaxEventPoints).
func entryAt(w []uint64, i int) int64            { return int64(w[2*i]) }
func entryKey(w []uint64, i int) uint32          { return uint32(w[2*i+1] >> 32) }
func entryPoints(w []uint64, i int) rules.Points { return rules.Points(int32(uint32(w[2*i+1]))) }
func entryWord(key uint32, pts rules.Points) uint64 {
	return uint64(key)<<32 | uint64(uint32(int32(pts)))
}

// lowerBound is the first of n records of stride 2 whose key (the high
// half of word k of the record) is >= key.
func lowerBound(w []uint64, k int, key uint32) int {
	lo, hi := 0, len(w)/2
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if uint32(w[2*mid+k]>>32) < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
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

	eval    *rules.Evaluator
	out     Outcome
	prev    []rules.Points // each model's score before the event
	dropped []int          // prune's: the models that lost an entry
	before  [][]rules.Points
	after   []rules.Points
	free    arenas // outgrown arenas, for contacts that grow to their size
	ages    [8]decayAgeOf
	types   typeCache
}

// NewScorer returns a Scorer over e.
func NewScorer(e *Engine) *Scorer {
	return &Scorer{Engine: e, eval: rules.NewEvaluator()}
}

// Apply scores one event into c. The Outcome is reused by the next call.
func (s *Scorer) Apply(c *Contact, ev *events.Event) *Outcome {
	o := &s.out
	o.reset()
	if !c.see(ev.ID, &s.free) {
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
		// Each model's group sums in the arrays of the last event: no
		// garbage per event and model.
		if cap(s.before) < len(models) {
			s.before = make([][]rules.Points, len(models))
		}
		s.before = s.before[:len(models)]
		for mi := range models {
			s.before[mi] = s.groupValues(c, mi, prev, s.before[mi])
		}
	}
	s.fit(c)

	s.prev = s.prev[:0]
	for mi := range models {
		var before rules.Points // a contact's first event: 0, as before any
		if !first {
			before = s.latestScore(c, mi)
		}
		s.prev = append(s.prev, before)
	}
	touched := uint64(0) // models with an award (first 64; the rest always recomputed)
	s.eval.Bind(ev)
	for _, cd := range s.candidatesOfType(ev.Type) {
		ok, pts, err := s.eval.Match(cd.g)
		if err != nil {
			o.Errors = append(o.Errors, EvalError{Model: models[cd.model].Name, Group: cd.g.Name, EventID: ev.ID, Err: err})
			continue
		}
		if !ok {
			continue
		}
		o.Awards = append(o.Awards, Award{Model: int(cd.model), Group: int(cd.group), Points: pts})
		if cd.model < 64 {
			touched |= 1 << cd.model
		}
		s.add(c, cd, ev, t, T, pts)
	}
	c.Latest = T
	s.prune(c, T)

	for mi, m := range models {
		mr := ModelResult{Model: mi, Before: s.prev[mi]}
		unchanged := !first && mi < 64 && touched&(1<<mi) == 0 && (T == prev || !s.timeDependent[mi])
		if unchanged {
			mr.Score = mr.Before
		} else {
			if m.Decays() {
				mr.Score = s.score(c, mi, T)
				c.arena[1+mi] = uint64(mr.Score)
			} else {
				mr.Score = s.latestScore(c, mi)
			}
			mr.Changed = mr.Score != mr.Before || first
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
				c.setCrossed(base+k, t)
			case c.Disarmed&bit != 0 && mr.Score < th.RearmBelow:
				c.Disarmed &^= bit
				c.clearCrossed(base + k)
			}
		}
	}
	return o
}

// add records a match of group cd at time t (T: the contact's latest time).
func (s *Scorer) add(c *Contact, cd candidate, ev *events.Event, t, T int64, pts rules.Points) {
	key := cd.key()
	m := s.Rules.Models[cd.model]
	g := cd.g
	switch cd.kind {
	case plain:
		w := c.plainWords()
		i := 0
		for i < int(c.nPlain) && plainKey(w, i) < key {
			i++
		}
		at := c.plainAt() + 2*i
		b := &s.bounds[cd.model][cd.group]
		before := rules.Points(0) // a group with no match contributes nothing
		if i == int(c.nPlain) || plainKey(w, i) != key {
			c.open(at, 2, &s.free)
			c.arena[at] = uint64(key) << 32
			c.nPlain++
		} else {
			before = b.clamp(rules.Points(c.arena[at+1]))
		}
		// The count wraps within its 32 bits, never into the key.
		c.arena[at] = c.arena[at]&^math.MaxUint32 | uint64(uint32(c.arena[at])+1)
		sum := rules.Points(c.arena[at+1]) + pts
		c.arena[at+1] = uint64(sum)
		c.addToTotal(int(cd.model), b.clamp(sum)-before)
	case first:
		fs := c.rareOf().firsts
		i := 0
		for i < len(fs) && fs[i].Group < key {
			i++
		}
		if i == len(fs) || fs[i].Group != key {
			fs = append(fs, FirstState{})
			copy(fs[i+1:], fs[i:])
		} else if f := fs[i]; f.At < t || (f.At == t && f.EventID < ev.ID) {
			return // an earlier match already holds the group
		}
		fs[i] = FirstState{Group: key, At: t, EventID: ev.ID, Points: pts}
		c.rare.firsts = fs
	case listed:
		if !inWindow(g, t, T) {
			return
		}
		if s.value(int(cd.model), pts, t, T) == 0 && pts != 0 {
			return
		}
		// The group's entries: [lo, hi), sorted by time.
		w := c.entryWords()
		lo := lowerBound(w, 1, key)
		hi := lo
		var raw rules.Points // their sum: for a model that does not decay, prune leaves only those inside their window at Latest
		for hi < int(c.nEntries) && entryKey(w, hi) == key {
			raw += entryPoints(w, hi)
			hi++
		}
		i := hi // entries mostly arrive in time order: search from the group's end
		for i > lo && entryAt(w, i-1) > t {
			i--
		}
		at := c.entriesAt() + 2*i
		c.open(at, 2, &s.free)
		c.arena[at] = uint64(t)
		c.arena[at+1] = entryWord(key, pts)
		c.nEntries++
		c.arena[0] = uint64(min(c.pruneAt(), s.expiry(m, g, t, pts)))
		if m.Decays() {
			return // Apply re-sums the model
		}
		b := &s.bounds[cd.model][cd.group]
		before := rules.Points(0) // the group's clamped sum, 0 with no entry
		if hi > lo {
			before = b.clamp(raw)
		}
		after := b.clamp(c.trimCapped(lo, hi+1, b, raw+pts))
		c.addToTotal(int(cd.model), after-before)
	}
}

// trimCapped drops matches of a capped window that can never count, among
// a group's entries [lo, hi) whose points add up to raw, and returns the
// sum of those left. When a group's points all share a sign and its newest
// matches already reach its cap, an older match changes nothing: whenever
// it is inside the window, so are the newer ones, and the sum is clamped
// to the cap anyway. Exact, and it bounds the state of noisy capped groups
// (e-mail opens) by cap / points entries.
func (c *Contact) trimCapped(lo, hi int, b *bounds, raw rules.Points) rules.Points {
	if !b.trims {
		return raw
	}
	limit := b.limit
	w := c.entryWords()
	var sum rules.Points
	for i := hi - 1; i > lo; i-- {
		sum += entryPoints(w, i)
		if sum >= limit && limit >= 0 || sum <= limit && limit <= 0 {
			// entries lo..i-1 never count.
			c.cut(c.entriesAt()+2*lo, 2*(i-lo))
			c.nEntries -= uint32(i - lo)
			return sum
		}
	}
	return raw
}

// prune drops entries that can no longer count at T or any later time:
// outside their window, or decayed to nothing (a contribution only shrinks
// as T grows).
func (s *Scorer) prune(c *Contact, T int64) {
	if c.nEntries == 0 || T < c.pruneAt() {
		return
	}
	next := int64(math.MaxInt64)
	w := c.entryWords()
	n := 0
	dropped := s.dropped[:0] // models that lost an entry
	for i := range int(c.nEntries) {
		at, key, pts := entryAt(w, i), entryKey(w, i), entryPoints(w, i)
		m := s.Rules.Models[key>>16]
		g := m.Groups[key&0xffff]
		if !inWindow(g, at, T) {
			dropped = append(dropped, int(key>>16))
			continue
		}
		if s.value(int(key>>16), pts, at, T) == 0 && pts != 0 {
			dropped = append(dropped, int(key>>16))
			continue
		}
		w[2*n], w[2*n+1] = w[2*i], w[2*i+1]
		n++
		next = min(next, s.expiry(m, g, at, pts))
	}
	c.cut(c.entriesAt()+2*n, 2*(int(c.nEntries)-n))
	c.nEntries = uint32(n)
	c.arena[0] = uint64(next)
	for i, mi := range dropped {
		if i == 0 || mi != dropped[i-1] { // entries, so drops, go in model order
			s.recount(c, mi)
		}
	}
	s.dropped = dropped[:0]
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
		at = min(at, t+s.decayAge(m.HalfLife, pts))
	}
	return at
}

// decayAge is how long pts can decay (with half-life h) before they may
// round to nothing, as expiry takes it. A group's points are mostly the
// same few numbers: the answers are kept in a small cache, by (h, pts).
func (s *Scorer) decayAge(h time.Duration, pts rules.Points) int64 {
	a := &s.ages[(uint64(pts)^uint64(h))*0x9e3779b97f4a7c15>>(64-3)]
	if a.half == h && a.pts == pts {
		return a.age
	}
	// |pts| x 2^-(age/h) < 0.5 once age > h x log2(2|pts|).
	halfLives := math.Log2(2 * math.Abs(float64(pts)))
	age := int64(float64(h)*halfLives) - int64(halfLives+1)*int64(time.Second)
	*a = decayAgeOf{half: h, pts: pts, age: max(age, 0)}
	return a.age
}

// decayAgeOf is one answer of decayAge.
type decayAgeOf struct {
	half time.Duration // 0: none yet (a decaying model's is > 0)
	pts  rules.Points
	age  int64
}

// Score is model mi's score for c at T (T >= c.Latest). A contact with no
// counted event scores 0 (clamped).
func (s *Scorer) Score(c *Contact, mi int, T int64) rules.Points { return s.score(c, mi, T) }

// score sums the group sums in a plain loop rather than through eachGroup's
// callback: it runs for nearly every event.
func (s *Scorer) score(c *Contact, mi int, T int64) rules.Points {
	m := s.Rules.Models[mi]
	if c == nil {
		return m.Clamp(0)
	}
	total := s.groupsSum(c, mi, T)
	if c.rare != nil {
		lo, hi := uint32(mi)<<16, uint32(mi+1)<<16
		total += s.firstSums(c, m, lo, hi, T, nil)
	}
	return m.Clamp(total)
}

// latestScore is the score at c.Latest from model mi's word: for a model
// that does not decay, its plain and windowed groups' total (prune leaves
// only entries inside their window) plus its first matches, rare; for a
// decaying model, the score the word keeps. Apply re-sums the latter
// whenever the time moves or a group changes.
func (s *Scorer) latestScore(c *Contact, mi int) rules.Points {
	m := s.Rules.Models[mi]
	if m.Decays() {
		return c.modelWord(mi)
	}
	total := c.modelWord(mi)
	if c.rare != nil {
		lo, hi := uint32(mi)<<16, uint32(mi+1)<<16
		total += s.firstSums(c, m, lo, hi, c.Latest, nil)
	}
	return m.Clamp(total)
}

// groupsSum is the sum of model mi's plain and windowed (or decaying)
// groups' clamped sums at T: the score but for first matches and the
// model's clamp.
func (s *Scorer) groupsSum(c *Contact, mi int, T int64) rules.Points {
	m := s.Rules.Models[mi]
	bs := s.bounds[mi]
	lo, hi := uint32(mi)<<16, uint32(mi+1)<<16
	var total rules.Points
	w := c.plainWords()
	for i := lowerBound(w, 0, lo); i < int(c.nPlain) && plainKey(w, i) < hi; i++ {
		total += bs[plainKey(w, i)&0xffff].clamp(plainSum(w, i))
	}
	w = c.entryWords()
	for i := lowerBound(w, 1, lo); i < int(c.nEntries) && entryKey(w, i) < hi; {
		var sum rules.Points
		var n int
		i, sum, n = s.entrySum(w, i, m, bs, T)
		if n > 0 {
			total += sum
		}
	}
	return total
}

// entrySum is the clamped sum of the counted entries of the group of
// entry i, returning the index after them and how many it counted (all of
// them, or for a group whose points share a sign, those from the newest
// back until the sum reaches its cap: the older ones cannot change the
// clamped sum, as a decayed value keeps its points' sign). Each
// counted entry of a decaying model is a decayValue, so stopping early
// saves most of the cost of re-summing a busy contact's capped groups.
func (s *Scorer) entrySum(w []uint64, i int, m *rules.Model, bs []bounds, T int64) (next int, sum rules.Points, n int) {
	key := entryKey(w, i)
	b := &bs[key&0xffff]
	from := i
	for 2*i < len(w) && entryKey(w, i) == key {
		i++
	}
	if !m.Decays() {
		for j := from; j < i; j++ {
			if at := entryAt(w, j); b.inWindow(at, T) {
				sum += entryPoints(w, j)
				n++
			}
		}
		return i, b.clamp(sum), n
	}
	inverse := s.inverse[key>>16]
	limit := b.limit
	for j := i - 1; j >= from; j-- {
		at, pts := entryAt(w, j), entryPoints(w, j)
		if !b.inWindow(at, T) {
			continue
		}
		v := pts
		if at < T {
			if v = decayValue(pts, T-at, m.HalfLife, inverse); v == 0 && pts != 0 {
				continue
			}
		}
		sum += v
		n++
		if b.trims && (sum >= limit && limit >= 0 || sum <= limit && limit <= 0) {
			break
		}
	}
	return i, b.clamp(sum), n
}

// firstSums adds up the clamped values of the first matches of the groups
// in [lo, hi) that count at T, calling fn with each when it is not nil.
func (s *Scorer) firstSums(c *Contact, m *rules.Model, lo, hi uint32, T int64, fn func(g int, sum rules.Points)) rules.Points {
	var total rules.Points
	for _, f := range c.firstList() {
		if f.Group < lo || f.Group >= hi {
			continue
		}
		g := m.Groups[f.Group&0xffff]
		if !inWindow(g, f.At, T) {
			continue
		}
		v := s.value(int(f.Group>>16), f.Points, f.At, T)
		if v == 0 && f.Points != 0 {
			continue
		}
		total += g.Clamp(v)
		if fn != nil {
			fn(int(f.Group&0xffff), g.Clamp(v))
		}
	}
	return total
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
	w := c.plainWords()
	for i := lowerBound(w, 0, lo); i < int(c.nPlain) && plainKey(w, i) < hi; i++ {
		key := plainKey(w, i)
		fn(int(key&0xffff), s.bounds[mi][key&0xffff].clamp(plainSum(w, i)))
	}
	s.firstSums(c, m, lo, hi, T, fn)
	w = c.entryWords()
	for i := lowerBound(w, 1, lo); i < int(c.nEntries) && entryKey(w, i) < hi; {
		var sum rules.Points
		key, n := entryKey(w, i), 0
		i, sum, n = s.entrySum(w, i, m, s.bounds[mi], T)
		if n > 0 {
			fn(int(key&0xffff), sum)
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
