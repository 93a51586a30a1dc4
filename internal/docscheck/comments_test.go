package docscheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// No comment stands detached above a declaration (a blank line between
// them: go doc shows neither), and a package comment sits on package.
func TestNoDetachedDocComments(t *testing.T) {
	root := filepath.Join("..", "..")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "third_party" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, msg := range detached(fset, f) {
			t.Errorf("%s", msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read %d Go files: the walk missed the module", files)
	}
}

// detached lists f's comments that end one blank line above a top-level
// declaration, and package comments away from the package clause.
func detached(fset *token.FileSet, f *ast.File) []string {
	line := func(p token.Pos) int { return fset.Position(p).Line }
	declAt := map[int]bool{}
	docs := map[*ast.CommentGroup]bool{f.Doc: true}
	for _, d := range f.Decls {
		declAt[line(d.Pos())] = true
		switch d := d.(type) {
		case *ast.FuncDecl:
			docs[d.Doc] = true
		case *ast.GenDecl:
			docs[d.Doc] = true
		}
	}
	var out []string
	for _, cg := range f.Comments {
		text := cg.Text()
		switch {
		case strings.HasPrefix(text, "Package ") && line(cg.End())+1 != line(f.Package):
			out = append(out, fset.Position(cg.Pos()).String()+": a package comment away from the package clause")
		case !docs[cg] && !declAt[line(cg.End())+1] && declAt[line(cg.End())+2] && !strings.HasPrefix(text, "go:build"):
			out = append(out, fset.Position(cg.Pos()).String()+": a comment detached from the declaration below it by a blank line")
		}
	}
	return out
}

func TestDetachedFinds(t *testing.T) {
	src := "// Package p is here.\npackage p\n\n// x is detached.\n\nvar x = 1\n\n// y is attached.\nvar y = 2\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if got := detached(fset, f); len(got) != 1 || !strings.HasPrefix(got[0], "p.go:4:") {
		t.Errorf("detached = %q, want the comment at p.go:4", got)
	}
}
