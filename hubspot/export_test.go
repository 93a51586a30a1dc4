package hubspot

import (
	"time"

	"golang.org/x/time/rate"
)

// NewLimiterForTest is the client's limiter for n requests per interval.
func NewLimiterForTest(n int, interval time.Duration) *rate.Limiter { return newLimiter(n, interval) }

// Schedule is when lim lets each request go, for requests asking at the
// given (non-decreasing) instants: the limiter's own schedule, computed
// on those instants instead of the wall clock, so no scheduling delay of
// a loaded machine enters it.
func Schedule(lim *rate.Limiter, at []time.Time) []time.Time {
	out := make([]time.Time, len(at))
	for i, t := range at {
		out[i] = t.Add(lim.ReserveN(t, 1).DelayFrom(t))
	}
	return out
}
