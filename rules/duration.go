package rules

import (
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// ParseDuration reads a duration of a rule file (`30d`, `36h`, `2w`): the
// configuration dialect's syntax, shared with the bridge configuration.
func ParseDuration(s string) (time.Duration, error) { return dialect.ParseDuration(s) }

// FormatDuration writes d back in the same syntax.
func FormatDuration(d time.Duration) string { return dialect.FormatDuration(d) }
