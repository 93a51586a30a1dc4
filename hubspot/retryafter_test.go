package hubspot

import (
	"net/http"
	"testing"
	"time"
)

// Retry-After in seconds, as an HTTP date, HubSpot's interval header, and
// values too large for a time.Duration (which used to overflow into a
// negative wait, that is no wait at all).
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header, value string
		want          time.Duration
	}{
		{"Retry-After", "2", 2 * time.Second},
		{"Retry-After", "0.5", 500 * time.Millisecond},
		{"Retry-After", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"Retry-After", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Retry-After", "Inf", longestRetryAfter},
		{"Retry-After", "1e300", longestRetryAfter},
		{"Retry-After", "NaN", 0},
		{"Retry-After", "-3", 0},
		{"X-HubSpot-RateLimit-Interval-Milliseconds", "10000", 10 * time.Second},
	} {
		h := http.Header{}
		h.Set(c.header, c.value)
		if got := retryAfter(h, now); got != c.want {
			t.Errorf("%s: %s -> %v, want %v", c.header, c.value, got, c.want)
		}
	}
}
