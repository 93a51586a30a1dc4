package leadscores

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadFile reads what `scorer state scores` prints, a message a line,
// and names the file and line of one it cannot take.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	a := Message{ContactID: "c-1", RuleVersion: "v1", Models: map[string]Model{"m": {Score: 3, Top: []Group{}}}}
	b := Message{ContactID: "c-2", RuleVersion: "v1", Models: map[string]Model{"m": {Score: 5, Top: []Group{}}}}
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte(string(Marshal(&a))+"\n"+string(Marshal(&b))+"\n"), 0o644)
	got, err := ReadFile(good)
	if err != nil || len(got) != 2 || !SameScores(&got[0], &a) || got[1].ContactID != "c-2" || !SameScores(&got[1], &b) {
		t.Fatalf("ReadFile: %+v, %v", got, err)
	}
	for name, second := range map[string]string{
		"not JSON":      `{"contact_id":`,
		"no contact_id": `{"rule_version":"v1","models":{}}`,
		"no models":     `{"contact_id":"c-2","rule_version":"v1"}`,
	} {
		path := filepath.Join(dir, "bad.jsonl")
		os.WriteFile(path, []byte(string(Marshal(&a))+"\n"+second+"\n"), 0o644)
		if _, err := ReadFile(path); err == nil || !strings.HasPrefix(err.Error(), path+":2: ") {
			t.Errorf("%s: err %v, want it named at %s:2", name, err, path)
		}
	}
}
