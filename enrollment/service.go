package enrollment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
)

// Message is one crossing as it came off the crossings topic. The service
// knows nothing of Kafka: the command adapts its consumer to this.
type Message struct {
	Key   string
	Value []byte
	// Raw is the consumer's own message, handed back to DeadLetter.
	Raw any
}

// Service runs a Bridge as a long-lived consumer: it decodes crossings,
// dead-letters the malformed ones, decides the rest with a few workers
// (one contact's crossings in order), and does the periodic work (held
// releases, workflow-exit retries, the audit outbox, pruning).
type Service struct {
	Bridge  *Bridge
	Metrics *ServiceMetrics // optional
	Log     zerolog.Logger
	// Workers bounds the contacts decided at once within a batch (8).
	Workers int
	// DeadLetter stores a malformed message; Process only moves past it
	// once DeadLetter returned nil.
	DeadLetter func(ctx context.Context, m Message, reason string) error
	// Work is the context of sink calls and store writes. The command
	// cancels it a grace period after shutdown began, so a call in flight
	// normally finishes but a hung one cannot hold the exit.
	Work context.Context
	// Retry is the first wait after Handle failed (store or dead-letter
	// trouble); it doubles up to 5 s (default 100 ms).
	Retry time.Duration
}

func (s *Service) work() context.Context {
	if s.Work == nil {
		return context.Background()
	}
	return s.Work
}

// Process decides a batch of consecutive messages of one partition and
// returns how many of them, from the first, are durably done: the caller
// may commit the offset after the last of those. Crossings of one key
// (contact) are decided in order; different keys in parallel. When stop
// ends, no new message is started and the done prefix is returned; the
// rest are redelivered later and met as duplicates where already decided.
func (s *Service) Process(stop context.Context, msgs []Message) int {
	done := make([]bool, len(msgs))
	byKey := map[string][]int{}
	var order []string
	for i, m := range msgs {
		if _, ok := byKey[m.Key]; !ok {
			order = append(order, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], i)
	}
	workers := s.Workers
	if workers <= 0 {
		workers = 8
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, k := range order {
		idx := byKey[k]
		select {
		case sem <- struct{}{}:
		case <-stop.Done():
		}
		if stop.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, i := range idx {
				if stop.Err() != nil || !s.one(stop, msgs[i]) {
					return
				}
				done[i] = true
			}
		})
	}
	wg.Wait()
	n := 0
	for n < len(done) && done[n] {
		n++
	}
	return n
}

// one decides a message, retrying failures until stop; false when it
// gave up because stop ended.
func (s *Service) one(stop context.Context, m Message) bool {
	wait := s.Retry
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	for {
		err := s.decide(m)
		if err == nil {
			return true
		}
		s.Metrics.count("crossing_error")
		s.Log.Error().Err(err).Str("contact_id", m.Key).Msg("crossing not decided; retrying")
		t := time.NewTimer(wait)
		select {
		case <-stop.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (s *Service) decide(m Message) error {
	ctx := s.work()
	c, err := events.DecodeCrossing(m.Value)
	if err != nil {
		if s.DeadLetter == nil {
			return fmt.Errorf("malformed crossing and no dead-letter topic: %w", err)
		}
		if derr := s.DeadLetter(ctx, m, err.Error()); derr != nil {
			return fmt.Errorf("dead-letter a malformed crossing: %w", derr)
		}
		s.Metrics.crossing("dead_letter")
		s.Log.Warn().Str("contact_id", m.Key).Err(err).Msg("dead-lettered a malformed crossing")
		return nil
	}
	start := time.Now()
	res, err := s.Bridge.Handle(WithCrossing(ctx, c.CrossingID), c)
	if err != nil {
		return fmt.Errorf("crossing %s: %w", c.CrossingID, err)
	}
	if res.Duplicate {
		s.Metrics.crossing("duplicate")
		return nil
	}
	s.Metrics.crossing("decided")
	s.Metrics.decided(res.Decision, time.Since(start))
	return nil
}

// Recover decides the crossings whose sink call a crash interrupted. The
// command calls it once before consuming.
func (s *Service) Recover(ctx context.Context) error {
	ds, err := s.Bridge.Recover(ctx)
	s.observe(ds)
	if len(ds) > 0 {
		s.Log.Info().Int("decided", len(ds)).Msg("recovered interrupted crossings")
	}
	return err
}

// Tick is the periodic work: release the held crossings whose time has
// come, retry failed workflow exits, and hand the outbox to the
// recorder. Every step runs even when an earlier one failed.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	ds, err := s.Bridge.ReleaseHeld(ctx)
	s.observe(ds)
	errs = append(errs, wrapStep("release held", err))
	ds, err = s.Bridge.RetryUnenrolls(ctx)
	s.observe(ds)
	errs = append(errs, wrapStep("retry workflow exits", err))
	n, err := s.Bridge.FlushOutbox(ctx, 1000)
	if err != nil {
		s.Metrics.count("outbox")
	}
	errs = append(errs, wrapStep("flush outbox", err))
	if s.Metrics != nil {
		s.Metrics.Recorded.Add(float64(n))
		if held, err := s.Bridge.Store.Held(); err == nil {
			s.Metrics.Held.Set(float64(len(held)))
		}
		if out, err := s.Bridge.Store.Outbox(100_000); err == nil {
			s.Metrics.Outbox.Set(float64(len(out)))
		}
	}
	return errors.Join(errs...)
}

// Prune bounds the idempotence memory and the local audit: final
// decisions older than retain are forgotten.
func (s *Service) Prune(now time.Time, retain time.Duration, audit *LocalAudit) error {
	n, err := s.Bridge.Store.PruneProcessed(now.Add(-retain))
	if err != nil {
		return fmt.Errorf("prune processed crossings: %w", err)
	}
	m := 0
	if audit != nil {
		if m, err = audit.Prune(now.Add(-retain)); err != nil {
			return err
		}
	}
	s.Log.Info().Int("processed", n).Int("audit", m).Msg("pruned decisions older than the retention")
	return nil
}

func (s *Service) observe(ds []Decision) {
	for _, d := range ds {
		s.Metrics.decided(d, 0)
	}
}

func wrapStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", step, err)
}

type crossingKey struct{}

// WithCrossing names the crossing whose pipeline makes the calls under
// ctx, so the audit rows of its HTTP calls carry its id.
func WithCrossing(ctx context.Context, crossingID string) context.Context {
	return context.WithValue(ctx, crossingKey{}, crossingID)
}

func crossingOf(ctx context.Context) string {
	id, _ := ctx.Value(crossingKey{}).(string)
	return id
}

// auditTag joins the crossing id and a sink call's sequence number in the
// hubspot client's audit tag; SplitAuditTag takes them apart.
func auditTag(ctx context.Context, call uint64) context.Context {
	return hubspot.WithAuditTag(ctx, fmt.Sprintf("%s|%d", crossingOf(ctx), call))
}
