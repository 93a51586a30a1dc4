package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// The state dump's check of the crossings topic: a crossing of a contact
// the changelog has no state of, or one under a wrong id, makes it fail;
// a consistent topic passes and is summed up on stderr.
func TestStateDumpCrossingProblems(t *testing.T) {
	at := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
	crossing := func(contact, id string) []byte {
		if id == "" {
			id = events.CrossingID(contact, "engagement", "sales", "e-"+contact)
		}
		b, err := json.Marshal(events.Crossing{CrossingID: id, ContactID: contact, Model: "engagement", ThresholdName: "sales", EventID: "e-" + contact, CrossedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	states := map[string]*scoring.Contact{"c-1": {}}
	for _, tc := range []struct {
		name     string
		add      func(*events.CrossingLog)
		problems int
		stderr   string
	}{
		{"consistent", func(l *events.CrossingLog) { l.Add([]byte("c-1"), crossing("c-1", "")) }, 0, "1 distinct crossing ids"},
		{"no state", func(l *events.CrossingLog) { l.Add([]byte("c-2"), crossing("c-2", "")) }, 1, "1 for contacts without state"},
		{"wrong id", func(l *events.CrossingLog) { l.Add([]byte("c-1"), crossing("c-1", "x-1")) }, 1, "conflict: crossing_id x-1 is not the id"},
	} {
		l := events.NewCrossingLog()
		tc.add(l)
		var stderr bytes.Buffer
		got := crossingProblems(&stderr, l, "lead-score-crossings", states)
		if len(got) != tc.problems || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%s: problems %q, stderr %q; want %d problems and %q", tc.name, got, stderr.String(), tc.problems, tc.stderr)
		}
	}
}
