package enrollment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
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
	// Workers bounds the crossings decided at once (8). A worker whose
	// crossing waits on a sender's lock (held by a slow call of the same
	// sender) stays busy, so give more workers than senders usually
	// active at once. MaxPending bounds the
	// messages admitted and not yet finished (1000).
	Workers    int
	MaxPending int
	// DeadLetter stores a malformed message; Process only moves past it
	// once DeadLetter returned nil.
	DeadLetter func(ctx context.Context, m Message, reason string) error
	// Work is the context of sink calls and store writes. The command
	// cancels it a grace period after shutdown began, so a call in flight
	// normally finishes but a hung one cannot hold the exit.
	Work context.Context
	// Retry is the first wait after Handle failed (store or dead-letter
	// trouble); it grows exponentially up to 5 s (default 100 ms).
	Retry time.Duration

	once    sync.Once
	workers chan struct{}
	pending chan struct{}
	mu      sync.Mutex
	last    map[string]chan struct{} // per key: completion of its latest message
}

func (s *Service) work() context.Context {
	if s.Work == nil {
		return context.Background()
	}
	return s.Work
}

// Submit schedules a batch of consecutive messages of one partition and
// returns once they are all admitted (at most MaxPending messages wait or
// run at once, which pushes back on the consumer). Crossings of one key
// (contact) are decided in submission order, different keys in parallel
// on Workers goroutines, so a contact whose calls are slow (a workflow
// outage being retried) holds up no other contact. done is called once
// every message has finished: ok when all of them are durably decided
// (the batch's offsets may be committed). When stop ends nothing new
// starts, and done reports false for a batch left unfinished; those
// messages are redelivered and met as duplicates where already decided.
func (s *Service) Submit(stop context.Context, msgs []Message, done func(ok bool)) {
	s.init()
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
	)
	for _, m := range msgs {
		select {
		case s.pending <- struct{}{}:
		case <-stop.Done():
		}
		if stop.Err() != nil {
			failed.Store(true)
			break
		}
		prev, mine := s.chain(m.Key)
		wg.Go(func() {
			defer func() { <-s.pending }()
			defer s.unchain(m.Key, mine)
			if prev != nil {
				<-prev
			}
			if !s.run(stop, m) {
				failed.Store(true)
			}
		})
	}
	go func() {
		wg.Wait()
		done(!failed.Load())
	}()
}

func (s *Service) init() {
	s.once.Do(func() {
		workers, pending := s.Workers, s.MaxPending
		if workers <= 0 {
			workers = 8
		}
		if pending <= 0 {
			pending = 1000
		}
		s.workers = make(chan struct{}, workers)
		s.pending = make(chan struct{}, pending)
		s.last = map[string]chan struct{}{}
	})
}

// chain returns the completion of the key's previous message (nil when
// none is pending) and registers this one's.
func (s *Service) chain(key string) (prev, mine chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, mine = s.last[key], make(chan struct{})
	s.last[key] = mine
	return prev, mine
}

func (s *Service) unchain(key string, mine chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(mine)
	if s.last[key] == mine {
		delete(s.last, key)
	}
}

// run decides m on a worker; false when stop ended first.
func (s *Service) run(stop context.Context, m Message) bool {
	if stop.Err() != nil {
		return false
	}
	select {
	case s.workers <- struct{}{}:
	case <-stop.Done():
		return false
	}
	defer func() { <-s.workers }()
	return s.one(stop, m)
}

// one decides a message, retrying failures until stop; false when it
// gave up because stop ended.
func (s *Service) one(stop context.Context, m Message) bool {
	first := s.Retry
	if first <= 0 {
		first = 100 * time.Millisecond
	}
	b := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(first),
		backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0)), stop)
	err := backoff.RetryNotify(func() error { return s.decide(m) }, b, func(err error, _ time.Duration) {
		s.Metrics.count(ErrCrossing)
		s.Log.Error().Err(err).Str("contact_id", m.Key).Msg("crossing not decided; retrying")
	})
	return err == nil
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
	res, err := s.Bridge.Handle(ctx, c)
	if err != nil {
		return fmt.Errorf("crossing %s: %w", c.CrossingID, err)
	}
	if res.Duplicate {
		s.Metrics.crossing("duplicate")
		return nil
	}
	s.Metrics.crossing("decided")
	s.Metrics.decided(res.Decision, time.Since(start))
	s.logDecision(res.Decision)
	return nil
}

// logDecision is the one info line per decision (the Bridge's own logger
// is left silent so that decisions are not logged twice).
func (s *Service) logDecision(d Decision) {
	ev := s.Log.Info().Str("crossing_id", d.CrossingID).Str("contact_id", d.ContactID).Str("model", d.Model).
		Str("decision", d.Outcome).Str("stage", d.Stage)
	if t := d.Target; t != nil && t.Kind == TargetSequence {
		ev = ev.Str("sequence_id", t.ID)
	} else if t != nil {
		ev = ev.Str("workflow_id", t.ID)
	}
	if d.OwnerID != "" {
		ev = ev.Str("owner_id", d.OwnerID)
	}
	if !d.NotBefore.IsZero() {
		ev = ev.Time("not_before", d.NotBefore)
	}
	ev.Msg("decided")
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

// Release is the periodic sink work: release the held crossings whose
// time has come and retry failed workflow exits. Both run even when the
// first failed.
func (s *Service) Release(ctx context.Context) error {
	ds, err := s.Bridge.ReleaseHeld(ctx)
	s.observe(ds)
	ds, err2 := s.Bridge.RetryUnenrolls(ctx)
	s.observe(ds)
	s.Metrics.sizes(s.Bridge.Store)
	return errors.Join(wrapStep("release held", err), wrapStep("retry workflow exits", err2))
}

// Flush hands the outbox to the recorder. It runs apart from Release so
// that slow sink calls never delay the audit.
func (s *Service) Flush(ctx context.Context) error {
	n, err := s.Bridge.FlushOutbox(ctx, 1000)
	if s.Metrics != nil {
		s.Metrics.Recorded.Add(float64(n))
	}
	s.Metrics.sizes(s.Bridge.Store)
	if err != nil {
		s.Metrics.count(ErrOutbox)
	}
	return wrapStep("flush outbox", err)
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
		s.logDecision(d)
	}
}

func wrapStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", step, err)
}

// CallRef names a sink call in the audit: the crossing whose pipeline made
// it (Kafka, a held release, recovery or a workflow-exit retry) and the
// call's number given by the metered sink (0 when not metered). It travels
// as one typed context value, and as the hubspot client's audit tag.
type CallRef struct {
	CrossingID string
	Call       uint64
}

type callRefKey struct{}

// withCallRef labels the sink calls made under ctx.
func withCallRef(ctx context.Context, ref CallRef) context.Context {
	return hubspot.WithAuditTag(context.WithValue(ctx, callRefKey{}, ref), ref)
}

func callRefOf(ctx context.Context) CallRef {
	ref, _ := ctx.Value(callRefKey{}).(CallRef)
	return ref
}
