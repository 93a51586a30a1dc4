package rules

import (
	"time"

	"github.com/expr-lang/expr/vm"
)

// Set is every model loaded from a rules path, with the version that every
// touch and crossing records.
type Set struct {
	Models []*Model
	// Companies are the company (account) models, which roll up contact
	// models' scores; the contact scoring engine never sees them.
	Companies []*CompanyModel
	Version   string // content hash of the rule files
}

// Model is one score model: one rule file.
type Model struct {
	Name       string
	File       string
	Thresholds []Threshold // in ascending order of At
	MaxScore   *Points
	MinScore   *Points
	HalfLife   time.Duration // 0: no decay
	Groups     []*Group
}

// Threshold is a score that announces a crossing when reached. After a
// crossing it is disarmed until the score falls below RearmBelow.
type Threshold struct {
	Name       string
	At         Points
	RearmBelow Points
}

// Group is a filter group: events matching When earn Points.
type Group struct {
	Name       string
	Line       int
	When       string
	Points     string // the source: a number or an expression
	Max        *Points
	Min        *Points
	Window     time.Duration // 0: no window
	Repeatable bool

	// Types lists the event types the group can match; nil means any type.
	Types []string
	// test decides a match for an event whose type is in Types; nil means
	// the type test alone decides (e.g. `event.type == "email_opened"`).
	test *vm.Program
	// testSlot numbers test's source (testSlots): groups with the same
	// one give the same answer for an event, which the Evaluator
	// remembers for the bound event.
	testSlot int
	// contactOnly: test is native and reads nothing but contact.*, so
	// its answer holds for every event bound with the same contact map.
	contactOnly bool
	fixed       Points
	points      *vm.Program // nil: fixed points
	// Native forms of test and points, when they lie in the subset that
	// compiles to closures (see native.go); nil: run the expr program.
	ntest, npoints native
}

// PointsSign is 1 when every match earns points >= 0, -1 when <= 0, and 0
// when it cannot be known (points from an expression).
func (g *Group) PointsSign() int {
	switch {
	case g.points != nil:
		return 0
	case g.fixed >= 0:
		return 1
	}
	return -1
}

// Model returns the named model, or nil.
func (s *Set) Model(name string) *Model {
	for _, m := range s.Models {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Decays reports whether contributions fade with age.
func (m *Model) Decays() bool { return m.HalfLife > 0 }

// Clamp limits a total to [MinScore, MaxScore].
func (m *Model) Clamp(p Points) Points { return clamp(p, m.MinScore, m.MaxScore) }

// Clamp limits a group sum to [Min, Max].
func (g *Group) Clamp(p Points) Points { return clamp(p, g.Min, g.Max) }

func clamp(p Points, lo, hi *Points) Points {
	if hi != nil && p > *hi {
		p = *hi
	}
	if lo != nil && p < *lo {
		p = *lo
	}
	return p
}
