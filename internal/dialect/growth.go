package dialect

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// CheckGrowth rejects at load what would go past a bound whatever the
// input: a literal range longer than the memory budget, and any part of the
// expression that reads nothing from the environment (no event, contact or
// crossing) and goes past a bound when evaluated once, such as
// `reduce(1..40, #acc + #acc, "ab")`. What depends on the input is bounded
// at run time instead.
func CheckGrowth(src string, env any) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return err
	}
	var first error
	var visit func(n ast.Node)
	visit = func(n ast.Node) {
		if first != nil || n == nil {
			return
		}
		if err := literalRange(n); err != nil {
			first = err
			return
		}
		if _, isPredicate := n.(*ast.PredicateNode); !isPredicate && len(free(n)) == 0 && !literal(n) {
			first = trial(n)
			return
		}
		for _, c := range children(n) {
			visit(c)
		}
	}
	visit(tree.Node)
	return first
}

// probeEnv is what a part that reads nothing is evaluated against.
type probeEnv struct {
	Meter `expr:"-"`
}

// trial evaluates a part that reads nothing from the environment once.
func trial(n ast.Node) error {
	src := n.String()
	p, err := expr.Compile(src, Options(probeEnv{})...)
	if err != nil {
		return nil // expr's own check of the whole decides
	}
	if _, err := Run(p, &probeEnv{}); IsLimit(err) {
		return fmt.Errorf("%s goes past a bound whatever the input: %s", src, limitText(err))
	}
	return nil
}

// limitText is the bound an error went past, without expr's caret lines.
func limitText(err error) string {
	s := strings.Replace(err.Error(), limitPrefix, "", 1)
	for i, c := range s {
		if c == '\n' {
			s = s[:i]
			break
		}
	}
	return s
}

func literalRange(n ast.Node) error {
	b, ok := n.(*ast.BinaryNode)
	if !ok || b.Operator != ".." {
		return nil
	}
	lo, ok1 := intLiteral(b.Left)
	hi, ok2 := intLiteral(b.Right)
	if ok1 && ok2 && hi-lo+1 > MemoryBudget {
		return fmt.Errorf("range %d..%d has %d elements: at most %d (to test bounds, write x >= %d && x <= %d)", lo, hi, hi-lo+1, MemoryBudget, lo, hi)
	}
	return nil
}

func intLiteral(n ast.Node) (int, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return x.Value, true
	case *ast.UnaryNode:
		if v, ok := intLiteral(x.Node); ok && x.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

func literal(n ast.Node) bool {
	switch n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode, *ast.BytesNode, *ast.ConstantNode:
		return true
	}
	return false
}

// free is the set of names n reads from outside itself: environment
// variables and let names ("contact", "x"), and the predicate pointers
// ("#", "#acc") of an enclosing builtin.
func free(n ast.Node) map[string]bool {
	out := map[string]bool{}
	switch x := n.(type) {
	case *ast.IdentifierNode:
		out[x.Value] = true
		return out
	case *ast.PointerNode:
		out["#"+x.Name] = true
		return out
	case *ast.PredicateNode:
		for k := range free(x.Node) {
			if k[0] != '#' {
				out[k] = true
			}
		}
		return out
	case *ast.VariableDeclaratorNode:
		for k := range free(x.Value) {
			out[k] = true
		}
		for k := range free(x.Expr) {
			if k != x.Name {
				out[k] = true
			}
		}
		return out
	case *ast.CallNode:
		// The callee is a function's name, not a variable.
		for _, a := range x.Arguments {
			for k := range free(a) {
				out[k] = true
			}
		}
		if _, ok := x.Callee.(*ast.IdentifierNode); !ok {
			for k := range free(x.Callee) {
				out[k] = true
			}
		}
		return out
	case *ast.MemberNode:
		for k := range free(x.Node) {
			out[k] = true
		}
		if _, ok := x.Property.(*ast.StringNode); !ok {
			for k := range free(x.Property) {
				out[k] = true
			}
		}
		return out
	}
	for _, c := range children(n) {
		for k := range free(c) {
			out[k] = true
		}
	}
	return out
}

func children(n ast.Node) []ast.Node {
	switch x := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{x.Node}
	case *ast.BinaryNode:
		return []ast.Node{x.Left, x.Right}
	case *ast.ChainNode:
		return []ast.Node{x.Node}
	case *ast.MemberNode:
		return []ast.Node{x.Node, x.Property}
	case *ast.SliceNode:
		return nonNil(x.Node, x.From, x.To)
	case *ast.CallNode:
		return append([]ast.Node{x.Callee}, x.Arguments...)
	case *ast.BuiltinNode:
		return x.Arguments
	case *ast.PredicateNode:
		return []ast.Node{x.Node}
	case *ast.VariableDeclaratorNode:
		return []ast.Node{x.Value, x.Expr}
	case *ast.SequenceNode:
		return x.Nodes
	case *ast.ConditionalNode:
		return []ast.Node{x.Cond, x.Exp1, x.Exp2}
	case *ast.ArrayNode:
		return x.Nodes
	case *ast.MapNode:
		return x.Pairs
	case *ast.PairNode:
		return []ast.Node{x.Key, x.Value}
	}
	return nil
}

func nonNil(ns ...ast.Node) []ast.Node {
	out := ns[:0]
	for _, n := range ns {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}
