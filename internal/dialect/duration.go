package dialect

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// units are the dialect's duration units, longest suffix first so that
// "ms" is not read as minutes.
var units = []struct {
	suffix string
	d      time.Duration
}{
	{"ms", time.Millisecond},
	{"s", time.Second},
	{"m", time.Minute},
	{"h", time.Hour},
	{"d", 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
}

// maxDuration keeps window and half-life arithmetic far from overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration reads the dialect's one duration form, in rule files, the
// bridge configuration and the commands' flags and environment alike: a
// positive integer and one of ms, s, m, h, d, w ("30d", "12h", "500ms").
// time.ParseDuration has no days or weeks, and accepts forms ("1h30m",
// "-5s") that operators should not have to tell apart from ours.
func ParseDuration(s string) (time.Duration, error) {
	var unit time.Duration
	num := ""
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			unit, num = u.d, strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	if unit == 0 {
		rest := strings.TrimLeft(s, "+-0123456789.")
		if rest == "" || rest == s {
			return 0, fmt.Errorf("duration %q: want an integer and a unit (ms, s, m, h, d, w), e.g. 30d", s)
		}
		return 0, fmt.Errorf("duration %q: unknown unit %q (use ms, s, m, h, d or w)", s, rest)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || num[0] == '+' {
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
	for i := len(units) - 1; i >= 0; i-- {
		if d%units[i].d == 0 {
			return strconv.FormatInt(int64(d/units[i].d), 10) + units[i].suffix
		}
	}
	return d.String() // below a millisecond: no dialect form
}

// DurationValue is a flag.Value in the dialect's syntax, so that a
// command line takes `--retain 30d` as a rule file takes `window: 30d`
// (flag.Duration would refuse it). "0" (or 0 of a unit, "0s") is zero,
// which a flag may mean "off"; a command that needs more says so itself.
type DurationValue time.Duration

// String implements flag.Value.
func (v *DurationValue) String() string {
	if v == nil || *v == 0 {
		return "0"
	}
	return FormatDuration(time.Duration(*v))
}

// Set implements flag.Value.
func (v *DurationValue) Set(s string) error {
	if isZero(s) {
		*v = 0
		return nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*v = DurationValue(d)
	return nil
}

// Get implements flag.Getter.
func (v *DurationValue) Get() any { return time.Duration(*v) }

// isZero reports "0", or zeros and a unit ("0s", "00m").
func isZero(s string) bool {
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s = num
			break
		}
	}
	return s != "" && strings.Trim(s, "0") == ""
}
