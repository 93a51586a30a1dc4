package enrollment

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The writeback section is checked with the rest: every problem at once,
// each with its file and line; unknown keys are errors.
func TestWritebackConfigProblems(t *testing.T) {
	for _, name := range []string{"writeback_invalid", "writeback_unknown"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "config", name+".yaml")
			_, err := LoadConfig(path)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a ConfigError, got %v", err)
			}
			for _, p := range ce.Problems {
				if !strings.HasPrefix(p, path+":") {
					t.Errorf("problem without file:line: %q", p)
				}
			}
			golden(t, filepath.Join("config", name+".golden"), strings.Join(ce.Problems, "\n")+"\n")
		})
	}
}

func TestWritebackConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("wb.yaml", []byte(`sink: hubspot
senders: [{owner_id: "u-1", user_id: "101", email: "ana@example.com"}]
routes: [{model: engagement, threshold: sales, sequence_id: "9001"}]
writeback: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	wb := cfg.Writeback
	if wb.Properties.Score != "scorebridge_{model}_score" || wb.Properties.Top != "scorebridge_{model}_top" ||
		wb.Delta() != 1 || wb.Flush() != 5*time.Second || wb.MaxBatch != 100 || wb.Topic != "lead-scores" || wb.Group != "bridge-writeback" {
		t.Errorf("defaults not applied: %+v", wb)
	}
}
