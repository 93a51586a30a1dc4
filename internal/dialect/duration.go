package dialect

import (
	"fmt"
	"strconv"
	"time"
)

var units = map[byte]time.Duration{
	's': time.Second,
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'w': 7 * 24 * time.Hour,
}

// maxDuration keeps window and half-life arithmetic far from overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration reads the dialect's one duration form, in rule files and
// the bridge configuration alike: a positive integer and one of
// s, m, h, d, w ("30d", "12h"). time.ParseDuration has no days or weeks,
// and accepts forms ("1h30m", "-5s") that rule authors should not write.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: want an integer and a unit (s, m, h, d, w), e.g. 30d", s)
	}
	unit, ok := units[s[len(s)-1]]
	if !ok {
		return 0, fmt.Errorf("duration %q: unknown unit %q (use s, m, h, d or w)", s, s[len(s)-1:])
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 || s[0] == '+' {
		return 0, fmt.Errorf("duration %q: want a positive integer before the unit", s)
	}
	if n > int64(maxDuration/unit) {
		return 0, fmt.Errorf("duration %q: longer than 100 years", s)
	}
	return time.Duration(n) * unit, nil
}

// FormatDuration writes d back in the dialect's form, using the largest
// unit that divides it.
func FormatDuration(d time.Duration) string {
	for _, u := range []byte{'w', 'd', 'h', 'm'} {
		if d%units[u] == 0 {
			return strconv.FormatInt(int64(d/units[u]), 10) + string(u)
		}
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
