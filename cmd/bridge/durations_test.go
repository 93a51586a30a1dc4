package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/internal/cli/clitest"
)

// Every duration flag of every bridge command reads the configuration
// dialect's durations (1w, 7d and 168h alike), as the bridge
// configuration does: none is a flag.Duration, which refuses 7d.
func TestDurationFlagsSpeakTheDialect(t *testing.T) {
	sets := clitest.CaptureFlagSets(t, &newFlagSet)
	for name := range commands.Commands {
		run([]string{name, "-h"}, io.Discard, io.Discard)
	}
	if len(*sets) < len(commands.Commands) {
		t.Fatalf("%d flag sets for %d commands", len(*sets), len(commands.Commands))
	}
	got := clitest.DurationFlags(t, *sets)
	for _, want := range []string{"bridge run --tick", "bridge run --grace", "bridge run --retain", "bridge ingest --email-poll"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not among the duration flags checked: %v", want, got)
		}
	}
}

// --email-since takes a time or a duration ago, the duration in the
// dialect (7d, 1w), the time as every other time flag takes it.
func TestEmailSince(t *testing.T) {
	now := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	week := now.Add(-7 * 24 * time.Hour)
	for in, want := range map[string]time.Time{"7d": week, "1w": week, "168h": week,
		"2026-03-01": time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "2026-03-01T12:00:00Z": week} {
		if got, err := sinceTime(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%s = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1h30m", "-1d", "yesterday"} {
		if _, err := sinceTime(in, now); err == nil || !strings.Contains(err.Error(), "--email-since") {
			t.Errorf("%q: %v; want an error naming --email-since", in, err)
		}
	}
}
