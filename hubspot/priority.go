package hubspot

import (
	"context"
	"time"
)

// Calls share one limiter, and HubSpot's budget is the portal's. A caller
// that can wait (the write-back of scores) marks its context with
// WithLowPriority: its calls take a slot of the limiter only while no
// ordinary call (an enrollment) is waiting for one, so a write-back
// backlog never delays an enrollment by more than the one low-priority
// request that may already hold the next slot.

type lowPriorityKey struct{}

// WithLowPriority marks the calls made with ctx as yielding to every other
// call waiting for the limiter.
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
	for c.urgent.Load() > 0 {
		if err := sleepCtx(ctx, yieldPoll); err != nil {
			return err
		}
	}
	return c.lim.Wait(ctx)
}
