package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// bridge check prints every problem and exits 1; a good file exits 0.
func TestCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "--config", "../../testdata/bridge.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("check of the sample = %d: %s %s", code, out.String(), errOut.String())
	}
	bad := t.TempDir() + "/bad.yaml"
	os.WriteFile(bad, []byte("sink: hubspot\nhubspot: {request_per_10s: 5}\nroutes:\n  - {model: m, sequence_id: \"1\", workflow_id: \"2\"}\n"), 0o600)
	out.Reset()
	if code := run([]string{"check", "--config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("check of a bad file = %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.Contains(out.String(), "request_per_10s") || !strings.Contains(out.String(), "exactly one of sequence_id and workflow_id") {
		t.Fatalf("problems printed:\n%s", out.String())
	}
}
