package calibration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteRuleFile writes a fit that raises the holdout AUC (or any, with
// force), never over the model's own file, and leaves no file behind that
// does not load.
func TestWriteRuleFile(t *testing.T) {
	src, err := os.ReadFile("testdata/simple.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 0.6, 0.7
	better := FitResult{File: "testdata/simple.yaml", Source: src, AUCBefore: &lo, AUCAfter: &hi}
	worse := better
	worse.AUCBefore, worse.AUCAfter = &hi, &lo
	unknown := better
	unknown.AUCAfter = nil

	for _, c := range []struct {
		name  string
		r     FitResult
		force bool
		want  error
	}{
		{"better", better, false, nil},
		{"worse", worse, false, ErrNoGain},
		{"no holdout AUC", unknown, false, ErrNoGain},
		{"worse, forced", worse, true, nil},
	} {
		dir := filepath.Join(t.TempDir(), "out")
		path, err := WriteRuleFile(dir, c.r, c.force)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			continue
		}
		if c.want != nil {
			if !strings.Contains(err.Error(), "before") {
				t.Errorf("%s: %v does not give the AUCs", c.name, err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s: refused, yet %s was made (%v)", c.name, dir, err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != string(src) || path != filepath.Join(dir, "simple.yaml") {
			t.Errorf("%s: wrote %s (%v), want the source in %s/simple.yaml", c.name, path, err, dir)
		}
	}

	// Into the model's own folder: refused, the file untouched.
	if _, err := WriteRuleFile("testdata", FitResult{File: "testdata/simple.yaml", Source: []byte("model: x\n"), AUCBefore: &lo, AUCAfter: &hi}, false); err == nil || !strings.Contains(err.Error(), "would overwrite") {
		t.Errorf("writing over the model's file: err %v", err)
	}
	if got, _ := os.ReadFile("testdata/simple.yaml"); string(got) != string(src) {
		t.Fatal("testdata/simple.yaml was changed")
	}

	// A source that does not load is removed again.
	dir := t.TempDir()
	bad := better
	bad.Source = []byte("model: broken\ngroups:\n  - {name: g, when: 'event.type ==', points: 1}\n")
	if _, err := WriteRuleFile(dir, bad, false); err == nil || !strings.Contains(err.Error(), "(removed)") {
		t.Errorf("a rule file that does not load: err %v", err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("a rule file that does not load was left behind: %v", files)
	}
}

// WriteTable shows expression points as such, groups not fitted as kept,
// and a missing AUC as "-".
func TestFitWriteTable(t *testing.T) {
	before := 0.61234
	r := FitResult{
		Groups: []GroupFit{
			{Group: "opens", Old: "2", New: "3", Fitted: true, Matched: 10, Converted: 4, Rate: 0.4},
			{Group: "calls", Old: "event.properties.n * 2", New: "event.properties.n * 2", Matched: 5},
			{Group: "forms", Old: "5", New: "5", Matched: 0},
		},
		HoldoutContacts: 100, HoldoutConversions: 7, AUCBefore: &before, FitContacts: 90, FitConversions: 6,
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `group  old points    new points         matched  converted  rate
opens  2             3                  10       4          0.4000
calls  (expression)  (expression) kept  5        0          0.0000
forms  5             5 kept             0        0          0.0000

holdout: 100 contacts, 7 conversions; AUC 0.6123 before, - after (fit on 90 contacts, 6 conversions)
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
