package docscheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	// A metric is declared as prometheus.*Opts{Name: "scorer_..."}.
	declared = regexp.MustCompile(`Name:\s+"((?:scorer|bridge)_[a-z0-9_]+)"`)
	// A name in prose or an alert rule; a histogram's series carry a
	// suffix of their own.
	mentioned = regexp.MustCompile(`\b(?:scorer|bridge)_[a-z0-9_]*[a-z0-9]\b`)
	suffix    = regexp.MustCompile(`_(bucket|sum|count)$`)
)

// Every scorer_* and bridge_* name in the README, docs/ and the alert
// rules is a metric the code declares, and every metric the code declares
// is documented somewhere an operator reads.
func TestDocumentedMetricsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	code := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "third_party" || d.Name() == ".local" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range declared.FindAllSubmatch(b, -1) {
			code[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(code) < 20 {
		t.Fatalf("found only %d metric declarations: the pattern no longer matches the code", len(code))
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	alerts, _ := filepath.Glob(filepath.Join(root, "docs", "alerts", "*.yaml"))
	files := append(append([]string{filepath.Join(root, "README.md")}, docs...), alerts...)
	documented := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, name := range mentioned.FindAllString(line, -1) {
				base := name
				if !code[base] {
					base = suffix.ReplaceAllString(name, "")
				}
				if !code[base] {
					t.Errorf("%s:%d: %s is not a metric the code declares", f, i+1, name)
					continue
				}
				documented[base] = true
			}
		}
	}
	var undocumented []string
	for name := range code {
		if !documented[name] {
			undocumented = append(undocumented, name)
		}
	}
	slices.Sort(undocumented)
	for _, name := range undocumented {
		t.Errorf("metric %s is declared but no doc names it", name)
	}
}
