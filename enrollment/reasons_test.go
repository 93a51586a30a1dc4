package enrollment

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Every Reason of the package is declared through reason(), in the one
// table the metrics label derives from: none is a bare string that would
// be labelled "remote".
func TestEveryReasonIsDeclared(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			vs, ok := node.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Reason") {
					continue
				}
				n++
				declared := false
				if call, ok := valueAt(vs, i).(*ast.CallExpr); ok {
					fn, _ := call.Fun.(*ast.Ident)
					declared = fn != nil && fn.Name == "reason"
				}
				if !declared {
					t.Errorf("%s: %s is not declared through reason(): its label would be %q", fset.Position(id.Pos()), id.Name, "remote")
				}
			}
			return true
		})
	}
	if n < 10 {
		t.Fatalf("found %d Reason declarations; the parse missed them", n)
	}
	for _, r := range []string{ReasonQuota, ReasonUnenroll, ReasonStatus, ""} {
		if reasonLabel(r) != r {
			t.Errorf("reasonLabel(%q) = %q", r, reasonLabel(r))
		}
	}
	if reasonLabel("Sequence 9001 not found") != "remote" {
		t.Error("a remote message must be labelled remote")
	}
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}
