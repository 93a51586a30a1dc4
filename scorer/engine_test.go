package scorer

import (
	"testing"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// testEngine is the engine of the repository's rules (testdata/rules),
// which the package's tests score with.
func testEngine(tb testing.TB) *scoring.Engine {
	tb.Helper()
	set, err := rules.Load("../testdata/rules")
	if err != nil {
		tb.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}
