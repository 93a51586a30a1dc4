package dialect

import (
	"fmt"
	"time"
)

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"}

// ParseTime reads the one form a time takes on a command line (--as-of,
// --from, --to, --start): RFC 3339, or a date or a date and time without a
// zone, taken as UTC. The empty string is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-03-01T00:00:00Z) or a date (2026-03-01)", s)
}
