package main

import (
	"io"
	"slices"
	"testing"

	"github.com/scorebridge/scorebridge/internal/cli/clitest"
)

// Every duration flag of every scorer command reads the configuration
// dialect's durations (1w, 7d and 168h alike), as rule files do: none is
// a flag.Duration, which refuses 7d.
func TestDurationFlagsSpeakTheDialect(t *testing.T) {
	sets := clitest.CaptureFlagSets(t, &newFlagSet)
	for name := range commands.Commands {
		args := []string{name}
		switch name {
		case "demo-report":
			args = append(args, "watch")
		case "state":
			for _, sub := range []string{"dump", "lag", "scores", "company-scores"} {
				run([]string{name, sub, "-h"}, io.Discard, io.Discard)
			}
			continue
		case "report":
			continue // analytics.RunReport's own flags; --lookback is checked there
		}
		run(append(args, "-h"), io.Discard, io.Discard)
	}
	got := clitest.DurationFlags(t, *sets)
	for _, want := range []string{"scorer run --accept-ahead", "scorer forget --wait", "scorer state dump --timeout",
		"scorer state lag --timeout", "scorer state scores --timeout", "scorer demo-report watch --timeout"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not among the duration flags checked: %v", want, got)
		}
	}
}
