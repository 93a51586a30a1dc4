package enrollment

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A sink's Retry-After is honoured up to MaxRetryAfter; a longer one (a
// webhook receiver's "come back in an hour", a mistyped header) ends the
// loop at once with the sink's error, so the caller holds the crossing
// instead of blocking the partition and the sender for that long.
func TestRetryAfterBounded(t *testing.T) {
	for _, c := range []struct {
		name       string
		max        time.Duration
		retryAfter time.Duration
		wantCalls  int
		wantSlept  []time.Duration
	}{
		{"short Retry-After is waited", 0, 3 * time.Second, 2, []time.Duration{3 * time.Second}},
		{"default bound is a minute", 0, time.Minute, 2, []time.Duration{time.Minute}},
		{"an hour is not waited", 0, time.Hour, 1, nil},
		{"a tighter bound", 10 * time.Second, 11 * time.Second, 1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var slept []time.Duration
			r := Retry{MaxAttempts: 2, MaxRetryAfter: c.max,
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			calls := 0
			sinkErr := &SinkError{Class: Retryable, Status: 429, RetryAfter: c.retryAfter}
			err := r.Do(context.Background(), func() (bool, error) { calls++; return true, sinkErr })
			if !errors.Is(err, sinkErr) {
				t.Errorf("err %v, want the sink's", err)
			}
			if calls != c.wantCalls || len(slept) != len(c.wantSlept) {
				t.Fatalf("calls %d slept %v, want %d calls and %v", calls, slept, c.wantCalls, c.wantSlept)
			}
			for i := range slept {
				if slept[i] != c.wantSlept[i] {
					t.Errorf("slept %v, want %v", slept, c.wantSlept)
				}
			}
		})
	}
}
