package dialect

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// Bounds every expression (scoring `when`/`points`, route `when`) is held to.
const (
	// MaxExprBytes and MaxExprNodes bound an expression's source.
	MaxExprBytes = 4096
	MaxExprNodes = 1000
	// MemoryBudget is expr's own budget for one evaluation (about one unit
	// per element of a range or built collection): `1..1000000000` fails
	// fast instead of exhausting memory.
	MemoryBudget = 100_000
	// MaxStringBytes bounds the bytes one evaluation may build into strings
	// (concatenation, replace, join, string()), which expr's budget does not
	// count: `reduce(1..40, #acc + #acc, "ab")` would otherwise need 2 TB.
	MaxStringBytes = 1 << 20
	// MaxNestedElements bounds what builtins that walk nested lists
	// (max, min, mean, median, flatten, string) may visit: a list built by
	// doubling (`[#acc, #acc]`) is small in memory and exponential to walk.
	MaxNestedElements = MemoryBudget
)

// Disabled are the builtins no expression may call: now() makes a result
// depend on when it is computed; the others build strings or structures
// whose size expr does not count, and no rule or route needs them.
var Disabled = []string{"now", "repeat", "toJSON", "fromJSON", "toBase64", "fromBase64"}

// LimitError is an evaluation that went past one of the bounds above. At
// run time it is an error for that evaluation alone; an expression that
// goes past a bound whatever its input is rejected at load.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// limitPrefix marks a LimitError in expr's error text, which wraps the
// panics of the functions it calls without always keeping the error chain.
const limitPrefix = "limit exceeded: "

func limitf(format string, args ...any) error {
	return &LimitError{Msg: limitPrefix + fmt.Sprintf(format, args...)}
}

// OneLine is the first line of an expression error, spaces collapsed:
// expr's errors go on with the source and a caret under the column, which
// a file:line report or a log line cannot show.
func OneLine(err error) string {
	return strings.Join(strings.Fields(strings.SplitN(err.Error(), "\n", 2)[0]), " ")
}

// IsLimit reports whether err is an evaluation that went past a bound.
func IsLimit(err error) bool {
	var le *LimitError
	if errors.As(err, &le) {
		return true
	}
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, limitPrefix) || strings.Contains(s, "memory budget exceeded") ||
		strings.Contains(s, "recursion depth exceeded")
}

// Meter counts the string bytes one evaluation builds. An environment
// embeds it (tagged `expr:"-"`) and is passed to Run by pointer; Reset it
// before each evaluation.
type Meter struct{ used int }

// Reset forgets what the previous evaluation built.
func (m *Meter) Reset() { m.used = 0 }

func (m *Meter) exprMeter() *Meter { return m }

// metered is an environment embedding a Meter.
type metered interface{ exprMeter() *Meter }

// charge accounts n more bytes to the evaluation running in env. An
// environment without a Meter still bounds each result.
func charge(env any, n int) error {
	if n > MaxStringBytes {
		return limitf("a string of %d bytes (at most %d per evaluation)", n, MaxStringBytes)
	}
	m, ok := env.(metered)
	if !ok {
		return nil
	}
	mm := m.exprMeter()
	mm.used += n
	if mm.used > MaxStringBytes {
		return limitf("strings of %d bytes built in one evaluation (at most %d)", mm.used, MaxStringBytes)
	}
	return nil
}

// Names of the functions the policy rewrites operators and builtins into.
// Rule authors never write them.
const (
	fnAdd    = "__add"    // operands known only at run time
	fnConcat = "__concat" // two strings: keeps the string type
	fnPre    = "__"       // + a guarded builtin's name
)

// guarded are the builtins rewritten to a bounded form.
var guarded = map[string]func(env any, args []any) (any, error){
	"replace": guardReplace,
	"join":    guardJoin,
	"string":  guardString,
	"max":     guardNested("max"),
	"min":     guardNested("min"),
	"mean":    guardNested("mean"),
	"median":  guardNested("median"),
	"flatten": guardNested("flatten"),
}

// Options are the expr options every expression is compiled with: the
// environment, the node bound, the disabled builtins and the bounded forms
// of string concatenation and of the builtins that can grow or walk
// without expr counting. extra come after (more functions, patches,
// expr.AsBool()).
func Options(env any, extra ...expr.Option) []expr.Option {
	opts := []expr.Option{
		expr.Env(env),
		expr.MaxNodes(MaxExprNodes),
		expr.Function(fnAdd, add, new(func(any, any, any) any)),
		expr.Function(fnConcat, add, new(func(any, string, string) string)),
		expr.Patch(growthPatcher{}),
	}
	for _, name := range Disabled {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	for name, g := range guarded {
		g := g
		opts = append(opts, expr.Function(fnPre+name, func(args ...any) (any, error) {
			return g(args[0], args[1:])
		}))
	}
	return append(opts, extra...)
}

// Compile compiles src under the policy: the size bounds, then expr's
// checks, then the growth that can be known without an input.
func Compile(src string, env any, extra ...expr.Option) (*vm.Program, error) {
	if len(src) > MaxExprBytes {
		return nil, fmt.Errorf("longer than %d bytes", MaxExprBytes)
	}
	if err := checkDisabled(src); err != nil {
		return nil, err
	}
	p, err := expr.Compile(src, Options(env, extra...)...)
	if err != nil {
		return nil, err
	}
	if err := CheckGrowth(src, env); err != nil {
		return nil, err
	}
	return p, nil
}

// checkDisabled names a disabled builtin, which expr would call an
// unknown name.
func checkDisabled(src string) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // expr's own error says where
	}
	var found string
	ast.Find(tree.Node, func(n ast.Node) bool {
		if b, ok := n.(*ast.BuiltinNode); ok && slices.Contains(Disabled, b.Name) {
			found = b.Name
			return true
		}
		return false
	})
	if found != "" {
		return fmt.Errorf("%s() is not available in expressions (disabled: %s)", found, strings.Join(Disabled, ", "))
	}
	return nil
}

// NewVM returns a VM with the policy's memory budget; one per goroutine.
func NewVM() *vm.VM { return &vm.VM{MemoryBudget: MemoryBudget} }

// Run evaluates p once against env (a pointer to an environment embedding
// a Meter) with a fresh VM.
func Run(p *vm.Program, env any) (any, error) { return NewVM().Run(p, env) }

// growthPatcher rewrites `a + b` (when it may join strings) into
// __add($env, a, b) and the guarded builtins into their bounded forms.
// Patchers run after a type check, so `1 + 2` keeps its int type.
type growthPatcher struct{}

func (growthPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator != "+" || !maybeString(n.Left.Type()) || !maybeString(n.Right.Type()) {
			return
		}
		fn := fnAdd
		if isString(n.Left.Type()) && isString(n.Right.Type()) {
			fn = fnConcat
		}
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fn},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, n.Left, n.Right},
		})
	case *ast.BuiltinNode:
		if _, ok := guarded[n.Name]; !ok {
			return
		}
		args := append([]ast.Node{&ast.IdentifierNode{Value: "$env"}}, n.Arguments...)
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fnPre + n.Name}, Arguments: args})
	}
}

func isString(t reflect.Type) bool { return t != nil && t.Kind() == reflect.String }

// maybeString: a string, or a type known only at run time.
func maybeString(t reflect.Type) bool {
	return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
}

// add is expr's `+` with string results counted.
func add(args ...any) (any, error) {
	a, b := args[1], args[2]
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			if err := charge(args[0], len(sa)+len(sb)); err != nil {
				return nil, err
			}
			return sa + sb, nil
		}
	}
	return runtime.Add(a, b), nil
}

// callBuiltin runs expr's own implementation of a builtin.
func callBuiltin(name string, args []any) (any, error) {
	f := builtin.Builtins[builtin.Index[name]]
	switch {
	case f.Func != nil:
		return f.Func(args...)
	case f.Safe != nil:
		out, _, err := f.Safe(args...)
		return out, err
	case f.Fast != nil && len(args) == 1:
		return f.Fast(args[0]), nil
	}
	return nil, fmt.Errorf("%s: unsupported arguments", name)
}

func guardReplace(env any, args []any) (any, error) {
	if len(args) >= 3 {
		s, ok1 := args[0].(string)
		old, ok2 := args[1].(string)
		repl, ok3 := args[2].(string)
		if ok1 && ok2 && ok3 {
			n := strings.Count(s, old)
			if old == "" {
				n = utf8.RuneCountInString(s) + 1
			}
			if len(args) == 4 {
				if k, ok := args[3].(int); ok && k >= 0 && k < n {
					n = k
				}
			}
			if err := charge(env, len(s)+n*max(len(repl)-len(old), 0)); err != nil {
				return nil, err
			}
		}
	}
	return callBuiltin("replace", args)
}

func guardJoin(env any, args []any) (any, error) {
	if len(args) == 0 {
		return callBuiltin("join", args)
	}
	sep := ""
	if len(args) == 2 {
		sep, _ = args[1].(string)
	}
	size := 0
	add := func(s string) { size += len(s) + len(sep) }
	switch xs := args[0].(type) {
	case []string:
		for _, s := range xs {
			add(s)
		}
	case []any:
		for _, x := range xs {
			s, _ := x.(string)
			add(s)
		}
	}
	if err := charge(env, size); err != nil {
		return nil, err
	}
	return callBuiltin("join", args)
}

func guardString(env any, args []any) (any, error) {
	if len(args) == 1 {
		size, err := walkSize(args[0], 0)
		if err != nil {
			return nil, err
		}
		if err := charge(env, size); err != nil {
			return nil, err
		}
	}
	return callBuiltin("string", args)
}

func guardNested(name string) func(env any, args []any) (any, error) {
	return func(_ any, args []any) (any, error) {
		seen := 0
		for _, a := range args {
			if err := walkCount(reflect.ValueOf(a), &seen); err != nil {
				return nil, err
			}
		}
		return callBuiltin(name, args)
	}
}

// walkCount counts the elements of nested lists and maps, failing past
// MaxNestedElements however much of the value is shared.
func walkCount(v reflect.Value, seen *int) error {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		*seen += v.Len()
		if *seen > MaxNestedElements {
			return limitf("more than %d nested elements", MaxNestedElements)
		}
		for i := 0; i < v.Len(); i++ {
			if err := walkCount(v.Index(i), seen); err != nil {
				return err
			}
		}
	case reflect.Map:
		*seen += v.Len()
		if *seen > MaxNestedElements {
			return limitf("more than %d nested elements", MaxNestedElements)
		}
		it := v.MapRange()
		for it.Next() {
			if err := walkCount(it.Value(), seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkSize estimates the bytes fmt prints for x, stopping past
// MaxStringBytes.
func walkSize(x any, acc int) (int, error) {
	var walk func(v reflect.Value) error
	walk = func(v reflect.Value) error {
		if acc > MaxStringBytes {
			return limitf("a string of more than %d bytes", MaxStringBytes)
		}
		for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
			if v.IsNil() {
				acc += 5
				return nil
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.String:
			acc += v.Len()
		case reflect.Slice, reflect.Array:
			acc += 2 + v.Len()
			for i := 0; i < v.Len(); i++ {
				if err := walk(v.Index(i)); err != nil {
					return err
				}
			}
		case reflect.Map:
			acc += 5 + v.Len()
			it := v.MapRange()
			for it.Next() {
				if err := walk(it.Key()); err != nil {
					return err
				}
				if err := walk(it.Value()); err != nil {
					return err
				}
			}
		default:
			acc += 32 // numbers, booleans, times
		}
		return nil
	}
	if err := walk(reflect.ValueOf(x)); err != nil {
		return 0, err
	}
	return acc, nil
}
