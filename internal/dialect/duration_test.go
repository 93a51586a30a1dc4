package dialect

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	week := 7 * 24 * time.Hour
	for s, want := range map[string]time.Duration{"1w": week, "7d": week, "168h": week, "10080m": week,
		"500ms": 500 * time.Millisecond, "90s": 90 * time.Second, "2m": 2 * time.Minute} {
		if d, err := ParseDuration(s); err != nil || d != want {
			t.Errorf("%s = %v, %v; want %v", s, d, err, want)
		}
	}
	for _, s := range []string{"", "0", "0s", "1h30m", "-5s", "+5s", "1.5h", "5", "5y", "ms", "m", "1 d"} {
		if d, err := ParseDuration(s); err == nil {
			t.Errorf("%q accepted as %v", s, d)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{7 * 24 * time.Hour: "1w", 48 * time.Hour: "2d", 90 * time.Minute: "90m",
		1500 * time.Millisecond: "1500ms", 2 * time.Second: "2s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %s, want %s", d, got, want)
		}
		if back, err := ParseDuration(want); err != nil || back != d {
			t.Errorf("%s reads back as %v, %v", want, back, err)
		}
	}
}

// A flag reads the dialect, and zero (for "off") as 0 of any unit.
func TestDurationValue(t *testing.T) {
	var v DurationValue
	for s, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "0": 0, "0s": 0, "00m": 0, "250ms": 250 * time.Millisecond} {
		if err := v.Set(s); err != nil || time.Duration(v) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", s, time.Duration(v), err, want)
		}
	}
	for _, s := range []string{"-1m", "1h30m", "", "soon"} {
		if err := v.Set(s); err == nil {
			t.Errorf("Set(%q) accepted", s)
		}
	}
	v = DurationValue(24 * time.Hour)
	if v.String() != "1d" {
		t.Errorf("String() = %s", v.String())
	}
}
