package rules

import (
	"fmt"

	"github.com/expr-lang/expr/vm"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Evaluator runs group expressions for one goroutine, reusing its VM and
// environment so that an evaluation does not allocate.
type Evaluator struct {
	vm  vm.VM
	env Env
}

// NewEvaluator returns an Evaluator; use one per goroutine.
func NewEvaluator() *Evaluator {
	return &Evaluator{vm: *dialect.NewVM()}
}

// Bind makes ev the event that following Match calls see. Events bound one
// after the other may share their contact map (conditions on the contact
// alone are then asked once): such a map must not change meanwhile.
func (e *Evaluator) Bind(ev *events.Event) {
	e.env.Event = EventEnv{
		ID:         ev.ID,
		Type:       ev.Type,
		ContactID:  ev.ContactID,
		CompanyID:  ev.CompanyID,
		OccurredAt: ev.OccurredAt,
		Properties: ev.Properties,
	}
	e.env.Contact = ev.Contact
	e.env.memo.next(ev.Contact)
}

// Match evaluates the group for the bound event: whether it matches and the
// points it earns. It assumes the event's type is one of g.Types (the
// caller's index guarantees it). A runtime error means no match.
func (e *Evaluator) Match(g *Group) (bool, Points, error) {
	ok, err := e.test(g)
	if err != nil || !ok {
		return false, 0, err
	}
	p, err := e.points(g)
	if err != nil {
		return false, 0, err
	}
	return true, p, nil
}

// test is Match's condition alone: what is left of `when` once the
// event's type is known to be one of g.Types, asked once per event for
// all the groups sharing it. Errors are not remembered: asking again
// gives the same one.
func (e *Evaluator) test(g *Group) (bool, error) {
	if g.test == nil {
		return true, nil
	}
	tests, stamp := &e.env.memo.tests, e.env.memo.stamp
	if g.contactOnly {
		tests, stamp = &e.env.memo.contactTests, e.env.memo.contactStamp
	}
	if ok, seen := tests.get(g.testSlot, stamp); seen {
		return ok, nil
	}
	out, err := e.run(g.test, g.ntest)
	if err != nil {
		return false, fmt.Errorf("when: %s", dialect.OneLine(err))
	}
	ok, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("when: gave %T, not true or false", out)
	}
	tests.put(g.testSlot, stamp, ok)
	return ok, nil
}

// points is what a match of g earns for the bound event.
func (e *Evaluator) points(g *Group) (Points, error) {
	if g.points == nil {
		return g.fixed, nil
	}
	out, err := e.run(g.points, g.npoints)
	if err != nil {
		return 0, fmt.Errorf("points: %s", dialect.OneLine(err))
	}
	f, ok := toFloat(out)
	if !ok {
		return 0, fmt.Errorf("points: got %T, want a number", out)
	}
	p, err := ToEventPoints(f)
	if err != nil {
		return 0, fmt.Errorf("points: %w", err)
	}
	return p, nil
}

func (e *Evaluator) run(p *vm.Program, n native) (any, error) {
	if n != nil {
		return n.run(&e.env)
	}
	e.env.Reset()
	return e.vm.Run(p, &e.env)
}

// MatchesType reports whether the group can match an event of type t.
func (g *Group) MatchesType(t string) bool {
	if g.Types == nil {
		return true
	}
	for _, x := range g.Types {
		if x == t {
			return true
		}
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}
