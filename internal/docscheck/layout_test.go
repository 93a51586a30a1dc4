package docscheck

import (
	"bufio"
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The rows drawn in docs/architecture.md ("The tree reads top-down") hold:
// every top-level folder with Go code is on a row, and a folder's code
// (tests aside) imports only folders on the rows below its own, so the
// imports run one way, top-down, and none goes back up.
func TestLayoutRowsHold(t *testing.T) {
	root := filepath.Join("..", "..")
	rows := drawnRows(t, filepath.Join(root, "docs", "architecture.md"))
	mod := modulePath(t, filepath.Join(root, "go.mod"))
	imports := map[[2]string][]string{} // (from, to) folder -> files
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (d.Name() == "third_party" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || !strings.Contains(rel, string(filepath.Separator)) {
			return nil
		}
		from := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		if _, ok := rows[from]; !ok {
			t.Errorf("%s: folder %s/ is on no row of docs/architecture.md's layout", rel, from)
			rows[from] = -1 // once
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, mod+"/") {
				continue
			}
			to := strings.SplitN(strings.TrimPrefix(p, mod+"/"), "/", 2)[0]
			if to != from {
				imports[[2]string{from, to}] = append(imports[[2]string{from, to}], filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) == 0 {
		t.Fatal("no import between folders found: the test would check nothing")
	}
	var bad []string
	for k, files := range imports {
		if rows[k[0]] >= 0 && rows[k[1]] <= rows[k[0]] {
			bad = append(bad, k[0]+"/ (row "+strconv.Itoa(rows[k[0]]+1)+") imports "+k[1]+"/ (row "+strconv.Itoa(rows[k[1]]+1)+") in "+strings.Join(files, ", "))
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// drawnRows reads the rows of the layout drawing: the code block after
// "The tree reads top-down", one row a line (a line that starts with a
// space continues the row above), each folder a word ending in "/".
func drawnRows(t *testing.T, path string) map[string]int {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := bytes.Cut(doc, []byte("The tree reads top-down"))
	if !ok {
		t.Fatalf("%s: no layout drawing (\"The tree reads top-down\")", path)
	}
	_, block, _ := bytes.Cut(after, []byte("```\n"))
	block, _, _ = bytes.Cut(block, []byte("```"))
	rows := map[string]int{}
	row := -1
	sc := bufio.NewScanner(bytes.NewReader(block))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' {
			continue
		}
		row++
		for _, w := range strings.Fields(line) {
			if strings.HasSuffix(w, "/") && !strings.Contains(w, ":") {
				rows[strings.TrimSuffix(w, "/")] = row
			}
		}
	}
	if len(rows) < 5 {
		t.Fatalf("%s: the layout drawing names %d folders", path, len(rows))
	}
	return rows
}

func modulePath(t *testing.T, gomod string) string {
	t.Helper()
	b, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "module"))
}
