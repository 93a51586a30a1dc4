package enrollment

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Retry is the bridge's one retry loop for sink calls, after
// Alertmanager's RetryStage: the call answers whether trying again is
// worth it, the loop waits (the sink's Retry-After, else exponential
// backoff with jitter from cenkalti/backoff) and bounds the attempts.
// The HubSpot client under the bridge makes one attempt per call, so
// attempts do not multiply across layers.
type Retry struct {
	// MaxAttempts bounds the calls of one Do (default 4).
	MaxAttempts int
	// Initial and Max bound the backoff between attempts (200 ms, 5 s).
	Initial, Max time.Duration
	// MaxRetryAfter is the longest Retry-After of the sink the loop waits
	// (default 1 min, the HubSpot client's own bound). A longer one ends
	// the loop with the sink's error: the caller holds the crossing rather
	// than block its partition and its sender for that long.
	MaxRetryAfter time.Duration
	// Sleep waits, or returns ctx's error; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) attempts() int {
	if r.MaxAttempts <= 0 {
		return 4
	}
	return r.MaxAttempts
}

func (r Retry) maxRetryAfter() time.Duration {
	if r.MaxRetryAfter <= 0 {
		return time.Minute
	}
	return r.MaxRetryAfter
}

func (r Retry) backOff() backoff.BackOff {
	initial, maxWait := r.Initial, r.Max
	if initial <= 0 {
		initial = 200 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Second
	}
	return backoff.NewExponentialBackOff(backoff.WithInitialInterval(initial), backoff.WithMaxInterval(maxWait),
		backoff.WithMaxElapsedTime(0))
}

func (r Retry) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do calls call until it succeeds, says not to retry, or the attempts are
// spent, or the sink asks to wait longer than MaxRetryAfter; it returns
// call's last error. A wait cut short by ctx ends the
// loop with that last error.
func (r Retry) Do(ctx context.Context, call func() (retry bool, err error)) error {
	b := r.backOff()
	var err error
	for n := 1; ; n++ {
		var retry bool
		retry, err = call()
		if err == nil || !retry || n >= r.attempts() {
			return err
		}
		wait := b.NextBackOff()
		var se *SinkError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			if se.RetryAfter > r.maxRetryAfter() {
				return err
			}
			wait = se.RetryAfter
		}
		if r.sleep(ctx, wait) != nil {
			return err
		}
	}
}

// Idempotent retries a call that is safe to repeat (a status check,
// workflow enrollment and unenrollment) on any non-permanent failure.
func (r Retry) Idempotent(ctx context.Context, call func() error) error {
	return r.Do(ctx, func() (bool, error) {
		err := call()
		c := Classify(err)
		return c != Permanent && c != Unusable, err
	})
}

// backoffAfter is the wait before retry n (1-based) of a durable retry
// that runs one attempt per tick (workflow exits): exponential from first,
// capped at ceiling, without jitter so the schedule is reproducible.
func backoffAfter(n int, first, ceiling time.Duration) time.Duration {
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(first), backoff.WithMaxInterval(ceiling),
		backoff.WithRandomizationFactor(0), backoff.WithMaxElapsedTime(0))
	d := first
	for range n {
		d = b.NextBackOff()
	}
	return d
}
