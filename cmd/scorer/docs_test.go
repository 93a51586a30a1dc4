package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/scorebridge/scorebridge/internal/cli/clitest"
)

// The flag tables of the README and the docs name `scorer run`'s real
// flags, defaults and environment variables.
func TestDocsFlagTablesMatchScorerRun(t *testing.T) {
	usage := func(t *testing.T) map[string]string {
		var out bytes.Buffer
		run([]string{"run", "-h"}, &out, &out)
		return clitest.ParseUsage(out.String())
	}
	docs, _ := filepath.Glob("../../docs/*.md")
	rows := clitest.Rows(t, "scorer run", append(docs, "../../README.md")...)
	src, _ := os.ReadFile("run.go")
	clitest.Check(t, rows, usage, map[string]bool{"SCORER_RULES": true, "SCORER_API_TOKEN": true}, string(src))
}

// The flag table of docs/studio.md names `scorer studio`'s real flags.
func TestDocsFlagTablesMatchScorerStudio(t *testing.T) {
	usage := func(t *testing.T) map[string]string {
		var out bytes.Buffer
		run([]string{"studio", "-h"}, &out, &out)
		return clitest.ParseUsage(out.String())
	}
	rows := clitest.Rows(t, "scorer studio", "../../docs/studio.md")
	if len(rows) == 0 {
		t.Fatal("docs/studio.md has no flag table for scorer studio")
	}
	src, _ := os.ReadFile("studio.go")
	clitest.Check(t, rows, usage, map[string]bool{"STUDIO_TOKEN": true, "STUDIO_BRIDGE_TOKEN": true}, string(src))
}
