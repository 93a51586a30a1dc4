package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm/runtime"
)

// native is a condition or points expression compiled to Go closures.
//
// Most filter groups are a handful of comparisons of event or contact
// properties with literals. expr runs those through its VM at ~200 ns each
// (a deferred recover, reflection on maps, an argument buffer per run); a
// closure tree doing the same work takes a few nanoseconds. Only that
// subset is compiled natively (literals, event fields, event.properties.K,
// contact.K, !, &&, ||, ?:, comparisons, in, startsWith, endsWith,
// contains); anything else runs in expr. The closures call expr's own
// runtime helpers (Equal, Less, In, ...) and build the same constant set
// expr's optimizer builds for `in`, so results and errors are expr's: a
// differential fuzz test holds them to it.
type native func(env *Env) any

// run evaluates a native expression, turning a panic into an error.
func (n native) run(env *Env) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return n(env), nil
}

// compileNative compiles src if it lies in the native subset.
func compileNative(src string) native {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	n, ok := nativeNode(tree.Node)
	if !ok {
		return nil
	}
	return n
}

func nativeNode(node ast.Node) (native, bool) {
	switch n := node.(type) {
	// Literals are boxed once: returning a string as `any` allocates.
	case *ast.StringNode:
		var v any = n.Value
		return func(*Env) any { return v }, true
	case *ast.IntegerNode:
		var v any = n.Value
		return func(*Env) any { return v }, true
	case *ast.FloatNode:
		var v any = n.Value
		return func(*Env) any { return v }, true
	case *ast.BoolNode:
		var v any = n.Value
		return func(*Env) any { return v }, true
	case *ast.NilNode:
		return func(*Env) any { return nil }, true
	case *ast.MemberNode:
		return nativeMember(n)
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil, false
		}
		x, ok := nativeNode(n.Node)
		if !ok {
			return nil, false
		}
		return func(env *Env) any { return !x(env).(bool) }, true
	case *ast.ConditionalNode:
		c, ok1 := nativeNode(n.Cond)
		a, ok2 := nativeNode(n.Exp1)
		b, ok3 := nativeNode(n.Exp2)
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		return func(env *Env) any {
			if c(env).(bool) {
				return a(env)
			}
			return b(env)
		}, true
	case *ast.BinaryNode:
		return nativeBinary(n)
	}
	return nil, false
}

func nativeMember(n *ast.MemberNode) (native, bool) {
	if n.Optional || n.Method {
		return nil, false
	}
	key, ok := n.Property.(*ast.StringNode)
	if !ok {
		return nil, false
	}
	k := key.Value
	if id, ok := n.Node.(*ast.IdentifierNode); ok {
		switch {
		case id.Value == "contact":
			slot := propSlots.slot("contact\x00" + k)
			return func(env *Env) any { return env.prop(slot, env.Contact, k) }, true
		case id.Value == "event":
			switch k {
			case "type":
				return func(env *Env) any { return env.Event.Type }, true
			case "id":
				return func(env *Env) any { return env.Event.ID }, true
			case "contact_id":
				return func(env *Env) any { return env.Event.ContactID }, true
			case "company_id":
				return func(env *Env) any { return env.Event.CompanyID }, true
			}
		}
		return nil, false
	}
	if isPropertyMap(n.Node) {
		slot := propSlots.slot("properties\x00" + k)
		return func(env *Env) any { return env.prop(slot, env.Event.Properties, k) }, true
	}
	return nil, false
}

// readsOnlyContact reports whether an expression of the native subset
// names nothing but contact: its value depends on the contact map alone.
func readsOnlyContact(node ast.Node) bool {
	v := contactOnlyVisitor{only: true}
	ast.Walk(&node, &v)
	return v.only
}

type contactOnlyVisitor struct{ only bool }

func (v *contactOnlyVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		v.only = v.only && n.Value == "contact"
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode,
		*ast.ArrayNode, *ast.MemberNode, *ast.UnaryNode, *ast.BinaryNode, *ast.ConditionalNode:
	default:
		v.only = false // anything outside the native subset's nodes
	}
}

func isConst(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ArrayNode:
		return true
	}
	return false
}

func nativeBinary(n *ast.BinaryNode) (native, bool) {
	if isConst(n.Left) && isConst(n.Right) {
		return nil, false // expr folds constants; leave those to it
	}
	if n.Operator == "in" {
		return nativeIn(n)
	}
	a, ok1 := nativeNode(n.Left)
	b, ok2 := nativeNode(n.Right)
	if !ok1 || !ok2 {
		return nil, false
	}
	switch n.Operator {
	case "&&", "and":
		return func(env *Env) any {
			if !a(env).(bool) {
				return false
			}
			return b(env)
		}, true
	case "||", "or":
		return func(env *Env) any {
			if a(env).(bool) {
				return true
			}
			return b(env)
		}, true
	case "==":
		return equal(a, b, n.Right), true
	case "!=":
		eq := equal(a, b, n.Right)
		return func(env *Env) any { return !eq(env).(bool) }, true
	case "<":
		return compare(a, b, n.Right, runtime.Less, func(x, y float64) bool { return x < y }), true
	case ">":
		return compare(a, b, n.Right, runtime.More, func(x, y float64) bool { return x > y }), true
	case "<=":
		return compare(a, b, n.Right, runtime.LessOrEqual, func(x, y float64) bool { return x <= y }), true
	case ">=":
		return compare(a, b, n.Right, runtime.MoreOrEqual, func(x, y float64) bool { return x >= y }), true
	case "startsWith":
		return stringOp(a, b, strings.HasPrefix), true
	case "endsWith":
		return stringOp(a, b, strings.HasSuffix), true
	case "contains":
		return stringOp(a, b, strings.Contains), true
	}
	return nil, false
}

// The fast paths below answer the common cases (a string or a JSON
// number against a literal) without expr's generic helpers, whose type
// switches and reflection cost more than the comparison; every other case
// goes to those helpers, so the answers stay expr's.

// equal is runtime.Equal, with a literal string or number on the right
// compared directly.
func equal(a, b native, right ast.Node) native {
	switch lit := right.(type) {
	case *ast.StringNode:
		want := lit.Value
		var boxed any = want
		return func(env *Env) any {
			x := a(env)
			if s, ok := x.(string); ok {
				return s == want
			}
			return runtime.Equal(x, boxed)
		}
	case *ast.IntegerNode, *ast.FloatNode:
		want := b(nil)
		f := toFloatLit(want)
		return func(env *Env) any {
			x := a(env)
			if v, ok := x.(float64); ok {
				return v == f
			}
			return runtime.Equal(x, want)
		}
	}
	return func(env *Env) any { return runtime.Equal(a(env), b(env)) }
}

// compare is an ordering helper of expr, with a JSON number (float64)
// against a number literal compared directly.
func compare(a, b native, right ast.Node, slow func(x, y any) bool, fast func(x, y float64) bool) native {
	switch right.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		want := b(nil)
		f := toFloatLit(want)
		return func(env *Env) any {
			x := a(env)
			if v, ok := x.(float64); ok {
				return fast(v, f)
			}
			return slow(x, want)
		}
	}
	return func(env *Env) any { return slow(a(env), b(env)) }
}

func toFloatLit(v any) float64 {
	if i, ok := v.(int); ok {
		return float64(i)
	}
	return v.(float64)
}

// stringOp mirrors expr's string operators: false when a side is nil, a
// runtime error when a side is not a string.
func stringOp(a, b native, op func(s, x string) bool) native {
	return func(env *Env) any {
		x, y := a(env), b(env)
		if xs, ok := x.(string); ok {
			if ys, ok := y.(string); ok {
				return op(xs, ys)
			}
		}
		if runtime.IsNil(x) || runtime.IsNil(y) {
			return false
		}
		return op(x.(string), y.(string))
	}
}

// nativeIn handles `x in [literals]`, building the set expr's optimizer
// builds for an all-string list.
// smallSet is the most words an `in` compares one by one rather than
// looks up in a set.
const smallSet = 8

func nativeIn(n *ast.BinaryNode) (native, bool) {
	arr, ok := n.Right.(*ast.ArrayNode)
	if !ok || len(arr.Nodes) == 0 {
		return nil, false
	}
	x, ok := nativeNode(n.Left)
	if !ok {
		return nil, false
	}
	set := map[string]struct{}{}
	list := make([]any, 0, len(arr.Nodes))
	allStrings := true
	for _, e := range arr.Nodes {
		if !isConst(e) {
			return nil, false
		}
		if _, isArr := e.(*ast.ArrayNode); isArr {
			return nil, false
		}
		v, _ := nativeNode(e)
		list = append(list, v(nil))
		if s, ok := e.(*ast.StringNode); ok {
			set[s.Value] = struct{}{}
		} else {
			allStrings = false
		}
	}
	if allStrings && len(set) <= smallSet {
		// A few words: comparing is cheaper than hashing the value.
		words := make([]string, 0, len(set))
		for _, e := range arr.Nodes {
			if w := e.(*ast.StringNode).Value; !slices.Contains(words, w) {
				words = append(words, w)
			}
		}
		return func(env *Env) any {
			v := x(env)
			if s, ok := v.(string); ok {
				return slices.Contains(words, s)
			}
			return runtime.In(v, set)
		}, true
	}
	if allStrings {
		return func(env *Env) any {
			v := x(env)
			if s, ok := v.(string); ok {
				_, found := set[s]
				return found
			}
			return runtime.In(v, set)
		}, true
	}
	return func(env *Env) any { return runtime.In(x(env), list) }, true
}
