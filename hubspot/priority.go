package hubspot

import (
	"context"
	"time"
)

type lowPriorityKey struct{}

// WithLowPriority marks the calls made with ctx as yielding to every other
// call waiting for the limiter. Calls share one limiter, and HubSpot's
// budget is the portal's: a caller that can wait (the write-back of
// scores) marks its context so, and its calls take a slot of the limiter
// only when one is free and no ordinary call (an enrollment) is waiting.
// A write-back backlog then delays an enrollment by at most the one slot
// a low-priority call may just have taken.
func WithLowPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, lowPriorityKey{}, true)
}

func lowPriority(ctx context.Context) bool {
	v, _ := ctx.Value(lowPriorityKey{}).(bool)
	return v
}

// yieldPoll is how often a low-priority call looks again for waiting
// ordinary calls.
const yieldPoll = 5 * time.Millisecond

// admitted waits for the limiter, low-priority calls behind ordinary ones.
func (c *Client) admitted(ctx context.Context) error {
	if !lowPriority(ctx) {
		c.urgent.Add(1)
		defer c.urgent.Add(-1)
		return c.lim.Wait(ctx)
	}
	// Never a reservation ahead (as Wait makes): a slot is taken only when
	// it is free now and no ordinary call waits, so queued low-priority
	// calls hold no future slots an enrollment would queue behind.
	for {
		if c.urgent.Load() == 0 && c.lim.Allow() {
			return nil
		}
		if err := sleepCtx(ctx, yieldPoll); err != nil {
			return err
		}
	}
}
