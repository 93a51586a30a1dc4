package scoring

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/scorebridge/scorebridge/rules"
)

// ref names a group: its model's index and its index in the model.
type ref struct{ model, group uint16 }

func (r ref) key() uint32 { return uint32(r.model)<<16 | uint32(r.group) }

// kind is how a group keeps state.
type kind uint8

const (
	plain  kind = iota // repeatable, no window, no decay: a running sum
	first              // not repeatable: only the earliest match
	listed             // windowed or decaying: the matches that still count
)

// candidate is a group an event may match, with what Apply needs of it at
// hand rather than behind Rules' pointers.
type candidate struct {
	g *rules.Group
	ref
	kind kind
}

// Engine is a compiled rule set with its groups indexed by event type.
// It is read-only and safe to share; each goroutine scores with its own
// Scorer.
type Engine struct {
	Rules  *rules.Set
	byType map[string][]candidate // groups an event of that type may match
	any    []candidate            // groups for types no rule names
	kinds  [][]kind
	// bounds[m][g] is group g's clamp as plain numbers: the hot loops
	// then read one small array instead of following *Group and *Points.
	bounds [][]bounds
	// thresholdBase[m] is the bit of model m's first threshold in a
	// contact's disarmed set.
	thresholdBase []int
	timeDependent []bool    // the model has a window or decays
	inverse       []float64 // 1 / the model's half-life (decayValue)

	printsOnce sync.Once
	print      *prints
}

// bounds is a group's [Min, Max] (the int64 extremes when unset) and
// window (0: none).
type bounds struct {
	lo, hi rules.Points
	window int64
	// trims: the group's points all share a sign and it has a cap on
	// that side, limit (trimCapped).
	trims bool
	limit rules.Points
}

// clamp is rules' clamp: the floor wins over the cap.
func (b *bounds) clamp(p rules.Points) rules.Points { return max(min(p, b.hi), b.lo) }

func (b *bounds) inWindow(t, T int64) bool { return b.window == 0 || t > T-b.window }

func boundsOf(g *rules.Group) bounds {
	b := bounds{lo: math.MinInt64, hi: math.MaxInt64, window: int64(g.Window)}
	if g.Min != nil {
		b.lo = *g.Min
	}
	if g.Max != nil {
		b.hi = *g.Max
	}
	switch {
	case g.Max != nil && g.PointsSign() > 0:
		b.trims, b.limit = true, *g.Max
	case g.Min != nil && g.PointsSign() < 0:
		b.trims, b.limit = true, *g.Min
	}
	return b
}

// MaxThresholds bounds the thresholds of all models together: a contact's
// armed state is one 64-bit word.
const MaxThresholds = 64

// NewEngine indexes a rule set.
func NewEngine(set *rules.Set) (*Engine, error) {
	if len(set.Models) > math.MaxUint16 {
		return nil, fmt.Errorf("%d models: at most %d", len(set.Models), math.MaxUint16)
	}
	e := &Engine{Rules: set, byType: map[string][]candidate{}}
	byType := map[string][]ref{}
	var anyType []ref
	bits := 0
	named := map[string]bool{}
	for _, m := range set.Models {
		for _, g := range m.Groups {
			for _, t := range g.Types {
				named[t] = true
			}
		}
	}
	for mi, m := range set.Models {
		e.thresholdBase = append(e.thresholdBase, bits)
		bits += len(m.Thresholds)
		kinds := make([]kind, len(m.Groups))
		bs := make([]bounds, len(m.Groups))
		td := false
		for gi, g := range m.Groups {
			r := ref{uint16(mi), uint16(gi)}
			bs[gi] = boundsOf(g)
			switch {
			case !g.Repeatable:
				kinds[gi] = first
			case g.Window > 0 || m.Decays():
				kinds[gi] = listed
			}
			td = td || g.Window > 0 || m.Decays()
			if g.Types == nil {
				anyType = append(anyType, r)
				for t := range named {
					byType[t] = append(byType[t], r)
				}
				continue
			}
			for _, t := range g.Types {
				byType[t] = append(byType[t], r)
			}
		}
		e.kinds = append(e.kinds, kinds)
		e.bounds = append(e.bounds, bs)
		e.timeDependent = append(e.timeDependent, td)
		inv := 0.0
		if m.Decays() {
			inv = 1 / float64(m.HalfLife)
		}
		e.inverse = append(e.inverse, inv)
	}
	if bits > MaxThresholds {
		return nil, fmt.Errorf("%d thresholds across models: at most %d", bits, MaxThresholds)
	}
	for t, refs := range byType {
		sort.Slice(refs, func(i, j int) bool { return refs[i].key() < refs[j].key() })
		e.byType[t] = e.candidatesOf(refs)
	}
	e.any = e.candidatesOf(anyType)
	return e, nil
}

// candidates are the groups an event of type t may match, in model and
// group order.
func (e *Engine) candidates(t string) []candidate {
	if cs, ok := e.byType[t]; ok {
		return cs
	}
	return e.any
}

// typeCache keeps, per Scorer, the candidates of the event types seen
// last, so that most events skip hashing their type into Engine.byType:
// comparing a type with the one cached is a length and, as the decoder
// interns types, a pointer.
type typeCache struct {
	engine *Engine // whose candidates; another empties the cache
	slots  [16]struct {
		t  string
		cs []candidate
		ok bool
	}
}

// candidatesOfType is s.candidates(t), through s's cache.
func (s *Scorer) candidatesOfType(t string) []candidate {
	c := &s.types
	if c.engine != s.Engine {
		*c = typeCache{engine: s.Engine}
	}
	h := len(t)
	if h > 0 {
		h = h*31 + int(t[0]) + int(t[len(t)-1])*7
	}
	slot := &c.slots[h&15]
	if slot.ok && slot.t == t {
		return slot.cs
	}
	cs := s.candidates(t)
	slot.t, slot.cs, slot.ok = t, cs, true
	return cs
}

func (e *Engine) candidatesOf(refs []ref) []candidate {
	cs := make([]candidate, len(refs))
	for i, r := range refs {
		cs[i] = candidate{g: e.group(r), ref: r, kind: e.kinds[r.model][r.group]}
	}
	return cs
}

func (e *Engine) group(r ref) *rules.Group {
	return e.Rules.Models[r.model].Groups[r.group]
}

// contribution is what points earned at t are worth at T: the points,
// halved every half-life when the model decays, rounded to a micro-point.
// Rounding each event's contribution (not the sum) keeps sums exact, so
// scores do not depend on event order and an explanation adds up exactly.
func contribution(m *rules.Model, pts rules.Points, t, T int64) (value rules.Points, factor float64) {
	if !m.Decays() || t >= T {
		return pts, 1
	}
	factor = math.Exp2(-float64(T-t) / float64(m.HalfLife))
	return rules.Points(math.Round(float64(pts) * factor)), factor
}

// inWindow: with a window W, only events with t > T - W count.
func inWindow(g *rules.Group, t, T int64) bool {
	return g.Window == 0 || t > T-int64(g.Window)
}
