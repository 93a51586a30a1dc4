package enrollment

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every Reason constant of the package is in the reasons table, so its
// metrics label is its own and never "remote" by accident.
func TestEveryReasonIsDeclared(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "decision.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			v, _ := strconv.Unquote(lit.Value)
			n++
			if !slices.Contains(reasons, v) || reasonLabel(v) != v {
				t.Errorf("%s = %q is not in the reasons table", name.Name, v)
			}
		}
		return true
	})
	if n < 10 {
		t.Fatalf("found %d Reason constants; the parse missed them", n)
	}
	if reasonLabel("Sequence 9001 not found") != "remote" {
		t.Error("a remote message must be labelled remote")
	}
}
