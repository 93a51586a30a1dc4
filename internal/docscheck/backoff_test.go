package docscheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// handDoubling matches a wait doubled by hand: a shift by the attempt
// number, a multiplication by two of a wait, math.Pow(2, ...).
var handDoubling = regexp.MustCompile(`<<\s*\(?\s*(attempt|try|tries|retry|retries|n)\b|` +
	`\b(wait|delay|backoff|sleep|interval|pause|next)\s*\*=\s*2\b|` +
	`\b(wait|delay|backoff|sleep|interval|pause|next)\s*=\s*(min|max)?\(?\s*2\s*\*\s*(wait|delay|backoff|sleep|interval|pause|next)\b|` +
	`math\.Pow\(\s*2\b`)

// Every backoff in the module comes from cenkalti/backoff: no loop
// doubles its own wait (issue 14: one retry policy, from the library).
func TestNoHandWrittenBackoff(t *testing.T) {
	root := filepath.Join("..", "..")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "third_party" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || path == filepath.Join(root, "internal", "docscheck", "backoff_test.go") {
			return nil // (this file's examples of what is caught)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for i, line := range strings.Split(string(b), "\n") {
			if handDoubling.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d: a hand-written doubling; use github.com/cenkalti/backoff/v4: %s", path, i+1, strings.TrimSpace(line))
			}
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

func TestHandDoublingPattern(t *testing.T) {
	for _, s := range []string{"delay := min(time.Second, 100*time.Millisecond<<(attempt-1))",
		"time.Sleep(time.Duration(100<<attempt) * time.Millisecond)", "wait = min(2*wait, 30*time.Second)",
		"delay *= 2", "d := math.Pow(2, float64(n))"} {
		if !handDoubling.MatchString(s) {
			t.Errorf("not caught: %s", s)
		}
	}
	for _, s := range []string{"c.Disarmed |= 1 << bit", "x := contact.b * 2", "cfg.RateLimit.Max = b.rate * 2"} {
		if handDoubling.MatchString(s) {
			t.Errorf("caught: %s", s)
		}
	}
}
