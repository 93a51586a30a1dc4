package companyscores

import (
	"path/filepath"
	"testing"
)

// ReadFile reads the messages of a file, one a line, as `scorer state
// company-scores` prints them: the golden file of the Acme history is
// what the aggregate builds.
func TestReadFile(t *testing.T) {
	set, s := sim(t, filepath.Join("..", "testdata", "events", "acme.jsonl"))
	got, err := ReadFile(filepath.Join("testdata", "acme.golden.jsonl"))
	if err != nil || len(got) != len(s.Aggs) || len(got) == 0 {
		t.Fatalf("ReadFile: %d messages, %v; want %d", len(got), err, len(s.Aggs))
	}
	for _, m := range got {
		want := Build(set, s.Aggs[m.CompanyID])
		if !Same(&m, &want) {
			t.Errorf("%s: read %s, built %s", m.CompanyID, Marshal(&m), Marshal(&want))
		}
	}
}
