package events

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The DLQ reason operations-scorer.md quotes for an oversized event is the
// one Decode gives.
func TestOversizedEventReasonAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations-scorer.md")
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, MaxEventBytes+1)
	_, derr := Decode(big)
	want := fmt.Sprintf("event is %d bytes, over the %d-byte limit", len(big), MaxEventBytes)
	if derr == nil || derr.Error() != want {
		t.Fatalf("Decode(oversized) = %v, want %s", derr, want)
	}
	quoted := strings.Join(strings.Fields(strings.ReplaceAll(string(doc), "\n  ", " ")), " ")
	if !strings.Contains(quoted, fmt.Sprintf("`event is N bytes, over the %d-byte limit`", MaxEventBytes)) {
		t.Errorf("docs/operations-scorer.md does not quote the oversized event's dlq-reason")
	}
}
