package rules

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Bounds on what a rule may ask of the engine: the configuration
// dialect's, shared with the bridge's route conditions.
const (
	MaxExprBytes = dialect.MaxExprBytes
	MaxExprNodes = dialect.MaxExprNodes
)

// options is the dialect's expression policy (node and memory bounds,
// disabled builtins, bounded string growth) plus the property lookups.
func options(extra ...expr.Option) []expr.Option {
	return dialect.Options(Env{}, lookups(extra)...)
}

// compile compiles a rule expression under the dialect's policy.
func compile(src string, extra ...expr.Option) (*vm.Program, error) {
	return dialect.Compile(src, Env{}, lookups(extra)...)
}

// lookups is the property lookups of rule expressions, then extra.
func lookups(extra []expr.Option) []expr.Option {
	return append([]expr.Option{
		expr.Function(propFunc, prop, new(func(map[string]any, string) any)),
		expr.Patch(propPatcher{}),
	}, extra...)
}

// propFunc reads a key of event.properties or contact. expr reads maps
// through reflection, which allocates on every access; a plain map index
// through a registered function does not, and gives the same answer (nil
// for a missing key). Rule authors never write it: propPatcher does.
const propFunc = "__prop"

func prop(args ...any) (any, error) {
	m, _ := args[0].(map[string]any)
	return m[args[1].(string)], nil
}

// propPatcher rewrites `event.properties.k` and `contact.k` (and the
// ["k"] forms) into __prop(map, "k").
type propPatcher struct{}

func (propPatcher) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	key, ok := m.Property.(*ast.StringNode)
	if !ok || !isPropertyMap(m.Node) {
		return
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: propFunc},
		Arguments: []ast.Node{m.Node, &ast.StringNode{Value: key.Value}},
	})
}

// isPropertyMap: `contact` or `event.properties`.
func isPropertyMap(n ast.Node) bool {
	if id, ok := n.(*ast.IdentifierNode); ok {
		return id.Value == "contact"
	}
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	p, ok2 := m.Property.(*ast.StringNode)
	return ok && ok2 && id.Value == "event" && p.Value == "properties"
}

// compileWhen compiles a group's condition, derives the event types it can
// match and the residual test left once the type is known.
func compileWhen(g *Group) error {
	if len(g.When) > MaxExprBytes {
		return fmt.Errorf("when: longer than %d bytes", MaxExprBytes)
	}
	full, err := compileFull(g.When)
	if err == nil {
		err = dialect.CheckCondition(g.When)
	}
	if err != nil {
		return fmt.Errorf("when: %w", err)
	}
	g.test, g.testSlot = full, testSlots.slot(g.When)
	g.ntest = compileNative(g.When)
	tree, err := parser.Parse(g.When)
	if err != nil {
		return nil // compiled above, so unreachable; keep the full test
	}
	types, rest, ok := deriveTypes(tree.Node)
	if !ok {
		g.contactOnly = g.ntest != nil && readsOnlyContact(tree.Node)
		return nil
	}
	g.Types = types
	switch {
	case rest == nil:
		g.test, g.ntest = nil, nil
	case rest != tree.Node:
		src := rest.String()
		if p, err := expr.Compile(src, options(expr.AsBool())...); err == nil {
			g.test, g.ntest, g.testSlot = p, compileNative(src), testSlots.slot(src)
			g.contactOnly = g.ntest != nil && readsOnlyContact(rest)
		}
	default:
		g.contactOnly = g.ntest != nil && readsOnlyContact(tree.Node)
	}
	return nil
}

// compilePoints accepts a YAML number or an expression giving a number.
func compilePoints(g *Group, isNumber bool, number float64) error {
	if isNumber {
		p, err := ToEventPoints(number)
		if err != nil {
			return fmt.Errorf("points: %w", err)
		}
		g.fixed = p
		return nil
	}
	if len(g.Points) > MaxExprBytes {
		return fmt.Errorf("points: longer than %d bytes", MaxExprBytes)
	}
	p, err := compile(g.Points)
	if err != nil {
		return fmt.Errorf("points: %w", err)
	}
	if !numeric(p) {
		return fmt.Errorf("points: expression %q does not give a number", g.Points)
	}
	if err := dialect.CheckNumber(g.Points); err != nil {
		return fmt.Errorf("points: %w", err)
	}
	g.points = p
	g.npoints = compileNative(g.Points)
	return nil
}

// numeric accepts int and float results, and interface results (e.g. a
// property) that can only be checked at run time.
func numeric(p *vm.Program) bool {
	t := p.Node().Type()
	if t == nil {
		return true
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Interface:
		return true
	}
	return false
}

// deriveTypes finds the event types a condition can match: `event.type ==
// "x"`, `event.type in ["x", "y"]`, conjunctions (intersection) and
// disjunctions (union) of those. It also returns what remains to test once
// the type is known: nil when the type test is all, node itself when the
// whole condition must still run.
func deriveTypes(node ast.Node) (types []string, rest ast.Node, ok bool) {
	set, rest, ok := derive(node)
	if !ok {
		return nil, node, false
	}
	types = make([]string, 0, len(set))
	for t := range set {
		types = append(types, t)
	}
	sort.Strings(types)
	return types, rest, true
}

func derive(node ast.Node) (map[string]bool, ast.Node, bool) {
	b, isBinary := node.(*ast.BinaryNode)
	if !isBinary {
		return nil, node, false
	}
	switch b.Operator {
	case "&&", "and":
		ls, lrest, lok := derive(b.Left)
		rs, rrest, rok := derive(b.Right)
		switch {
		case lok && rok:
			return intersect(ls, rs), and(lrest, rrest), true
		case lok:
			return ls, and(lrest, b.Right), true
		case rok:
			return rs, and(b.Left, rrest), true
		}
		return nil, node, false
	case "||", "or":
		ls, lrest, lok := derive(b.Left)
		rs, rrest, rok := derive(b.Right)
		if !lok || !rok {
			return nil, node, false
		}
		// Once the type is known only one side can still hold, unless the
		// sides share types; keep the whole condition then.
		if lrest == nil && rrest == nil {
			return union(ls, rs), nil, true
		}
		return union(ls, rs), node, true
	case "==":
		if isEventType(b.Left) {
			if s, ok := b.Right.(*ast.StringNode); ok {
				return map[string]bool{s.Value: true}, nil, true
			}
		}
		if isEventType(b.Right) {
			if s, ok := b.Left.(*ast.StringNode); ok {
				return map[string]bool{s.Value: true}, nil, true
			}
		}
	case "in":
		if !isEventType(b.Left) {
			break
		}
		arr, ok := b.Right.(*ast.ArrayNode)
		if !ok {
			break
		}
		set := map[string]bool{}
		for _, n := range arr.Nodes {
			s, ok := n.(*ast.StringNode)
			if !ok {
				return nil, node, false
			}
			set[s.Value] = true
		}
		return set, nil, true
	}
	return nil, node, false
}

func isEventType(n ast.Node) bool {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, ok2 := m.Property.(*ast.StringNode)
	return ok && ok2 && id.Value == "event" && prop.Value == "type"
}

func and(a, b ast.Node) ast.Node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &ast.BinaryNode{Operator: "&&", Left: a, Right: b}
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for t := range a {
		if b[t] {
			out[t] = true
		}
	}
	return out
}

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for t := range a {
		out[t] = true
	}
	for t := range b {
		out[t] = true
	}
	return out
}

// compileFull compiles a condition without deriving types: the whole test.
func compileFull(when string) (*vm.Program, error) {
	return compile(when, expr.AsBool())
}
