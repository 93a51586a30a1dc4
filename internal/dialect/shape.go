package dialect

import (
	"fmt"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// expr's type check passes `contact.minutes + 1` as a condition: its
// operands are known only at run time, so its type is "unknown". Its root
// says more: arithmetic never gives true or false. CheckCondition and
// CheckNumber judge an expression by what its root can give, and leave
// what is truly dynamic (a bare property, `??`, a ternary) to run time.

// CheckCondition rejects a condition whose root cannot give true or false.
func CheckCondition(src string) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // expr's own check reports it
	}
	if n := notBool(tree.Node); n != "" {
		return fmt.Errorf("%s never gives true or false: the condition is %s", src, n)
	}
	return nil
}

// CheckNumber rejects a points expression whose root can only give a
// string or a boolean.
func CheckNumber(src string) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	if n := notNumber(tree.Node); n != "" {
		return fmt.Errorf("%s never gives a number: it is %s", src, n)
	}
	return nil
}

var (
	comparisons = set("==", "!=", "<", ">", "<=", ">=", "and", "or", "&&", "||", "in", "not in",
		"matches", "contains", "startsWith", "endsWith", "not matches", "not contains", "not startsWith", "not endsWith")
	arithmetic   = set("+", "-", "*", "/", "%", "**", "^")
	boolBuiltins = set("all", "any", "none", "one", "hasPrefix", "hasSuffix")
	// Builtins that never give a boolean (those whose type expr knows are
	// caught by its own check; these also cover the dynamic cases).
	numberBuiltins = set("len", "count", "sum", "abs", "ceil", "floor", "round", "int", "float",
		"indexOf", "lastIndexOf", "max", "min", "mean", "median", "findIndex", "findLastIndex", "bitnot")
	stringBuiltins = set("string", "trim", "trimPrefix", "trimSuffix", "upper", "lower", "replace", "join")
	listBuiltins   = set("split", "splitAfter", "keys", "values", "toPairs", "map", "filter", "sort", "sortBy",
		"reverse", "uniq", "concat", "flatten", "take", "groupBy", "fromPairs")
)

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// notBool says what n gives when that can never be a boolean; "" when it
// can (or cannot be known before run time).
func notBool(n ast.Node) string {
	switch x := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return "a number literal"
	case *ast.StringNode:
		return "a string literal"
	case *ast.NilNode:
		return "nil"
	case *ast.ArrayNode:
		return "a list"
	case *ast.MapNode:
		return "a map"
	case *ast.UnaryNode:
		if x.Operator == "-" || x.Operator == "+" {
			return "arithmetic (" + x.Operator + ")"
		}
	case *ast.BinaryNode:
		switch {
		case x.Operator == "+" && (onlyString(x.Left) || onlyString(x.Right)):
			return "string concatenation (+)"
		case arithmetic[x.Operator]:
			return "arithmetic or string concatenation (" + x.Operator + ")"
		case x.Operator == "..":
			return "a range"
		case x.Operator == "??":
			l, r := notBool(x.Left), notBool(x.Right)
			if l != "" && r != "" {
				return l + " ?? " + r
			}
		}
	case *ast.ConditionalNode:
		a, b := notBool(x.Exp1), notBool(x.Exp2)
		if a != "" && b != "" {
			return "a ternary of " + a + " and " + b
		}
	case *ast.VariableDeclaratorNode:
		return notBool(x.Expr)
	case *ast.SequenceNode:
		if len(x.Nodes) > 0 {
			return notBool(x.Nodes[len(x.Nodes)-1])
		}
	case *ast.BuiltinNode:
		switch {
		case numberBuiltins[x.Name]:
			return x.Name + "(), a number"
		case stringBuiltins[x.Name]:
			return x.Name + "(), a string"
		case listBuiltins[x.Name]:
			return x.Name + "(), a list"
		}
	}
	return ""
}

// notNumber says what n gives when that can only be a string or a
// boolean; "" when it can be a number (or cannot be known before run time).
func notNumber(n ast.Node) string {
	if onlyString(n) {
		return "a string"
	}
	switch x := n.(type) {
	case *ast.BoolNode:
		return "a boolean literal"
	case *ast.NilNode:
		return "nil"
	case *ast.ArrayNode, *ast.MapNode:
		return "a list or map"
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			return "a negation, a boolean"
		}
	case *ast.BinaryNode:
		switch {
		case comparisons[x.Operator]:
			return "a comparison (" + x.Operator + "), a boolean"
		case x.Operator == "..":
			return "a range"
		case x.Operator == "??":
			l, r := notNumber(x.Left), notNumber(x.Right)
			if l != "" && r != "" {
				return l + " ?? " + r
			}
		}
	case *ast.ConditionalNode:
		a, b := notNumber(x.Exp1), notNumber(x.Exp2)
		if a != "" && b != "" {
			return "a ternary of " + a + " and " + b
		}
	case *ast.VariableDeclaratorNode:
		return notNumber(x.Expr)
	case *ast.SequenceNode:
		if len(x.Nodes) > 0 {
			return notNumber(x.Nodes[len(x.Nodes)-1])
		}
	case *ast.BuiltinNode:
		switch {
		case boolBuiltins[x.Name]:
			return x.Name + "(), a boolean"
		case listBuiltins[x.Name]:
			return x.Name + "(), a list"
		}
	}
	return ""
}

// onlyString: n can give nothing but a string.
func onlyString(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.StringNode:
		return true
	case *ast.BinaryNode:
		return x.Operator == "+" && (onlyString(x.Left) || onlyString(x.Right))
	case *ast.ConditionalNode:
		return onlyString(x.Exp1) && onlyString(x.Exp2)
	case *ast.BuiltinNode:
		return stringBuiltins[x.Name]
	case *ast.VariableDeclaratorNode:
		return onlyString(x.Expr)
	}
	return false
}
