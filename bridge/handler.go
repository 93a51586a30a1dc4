package bridge

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/stream"
)

// handler adapts the group consumer to the service: a batch's offset is
// committed (through Claim.Track, in order) only once every crossing in it
// and before it is durably decided.
type handler struct {
	svc       *enrollment.Service
	stop      context.Context
	log       zerolog.Logger
	consuming atomic.Bool

	mu       sync.Mutex
	inflight map[*stream.Claim]*sync.WaitGroup
}

func (h *handler) Assigned(_ context.Context, c *stream.Claim) error {
	h.mu.Lock()
	if h.inflight == nil {
		h.inflight = map[*stream.Claim]*sync.WaitGroup{}
	}
	h.inflight[c] = &sync.WaitGroup{}
	h.mu.Unlock()
	h.consuming.Store(true)
	return nil
}

func (h *handler) Handle(_ context.Context, c *stream.Claim, msgs []stream.Record) error {
	in := make([]enrollment.Message, len(msgs))
	for i, m := range msgs {
		in[i] = enrollment.Message{Key: string(m.Key), Value: m.Value, Raw: m}
	}
	h.mu.Lock()
	wg := h.inflight[c]
	h.mu.Unlock()
	durable := c.Track(msgs[len(msgs)-1].Offset + 1)
	wg.Add(1)
	h.svc.Submit(h.stop, in, func(ok bool) {
		if ok {
			durable()
		}
		wg.Done()
	})
	return nil
}

// Revoked waits for the partition's crossings in flight, so the commit
// that follows covers them; past the revoke timeout they finish anyway and
// the next owner meets them as duplicates.
func (h *handler) Revoked(ctx context.Context, c *stream.Claim) error {
	h.mu.Lock()
	wg := h.inflight[c]
	delete(h.inflight, c)
	h.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		h.log.Warn().Int("partition", c.Partition).Msg("crossings still in flight at revoke; they will be redelivered")
	}
	return nil
}
