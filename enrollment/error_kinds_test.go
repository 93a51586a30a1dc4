package enrollment

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// bridge_errors_total's help names exactly the declared kinds, and each
// has a series from the start.
func TestErrorKindsInHelpAndSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewServiceMetrics(reg, func() float64 { return 0 })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bridge_errors_total" {
			continue
		}
		var labels []string
		for _, m := range mf.GetMetric() {
			labels = append(labels, m.GetLabel()[0].GetValue())
		}
		for _, k := range ErrorKinds {
			if !strings.Contains(mf.GetHelp(), string(k)) {
				t.Errorf("help %q does not name %s", mf.GetHelp(), k)
			}
		}
		if len(labels) != len(ErrorKinds) {
			t.Errorf("series %v, want one per kind %v", labels, ErrorKinds)
		}
		return
	}
	t.Fatal("no bridge_errors_total")
}

// Every place that counts an error names a declared ErrorKind, never a
// string of its own, so the help (made from ErrorKinds) stays complete.
func TestErrorKindsCountedByName(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	cmd, _ := filepath.Glob("../bridge/*.go")
	fset := token.NewFileSet()
	calls := 0
	for _, path := range append(files, cmd...) {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "count" && sel.Sel.Name != "Count") || len(call.Args) != 1 {
				return true
			}
			calls++
			if lit, ok := call.Args[0].(*ast.BasicLit); ok {
				t.Errorf("%s: error kind %s is a literal; declare it in error_kinds.go", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
	if calls < 4 {
		t.Errorf("found %d counting calls; the scan no longer sees them", calls)
	}
}
