package analytics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
)

// EraserOptions tune an Eraser. Zero values take the defaults.
type EraserOptions struct {
	// MaxRetryInterval caps the backoff between attempts (default 5 s).
	// Attempts never stop by themselves: only the caller's context ends
	// them.
	MaxRetryInterval time.Duration
	// AttemptTimeout bounds one attempt (default 30 s): the mutations
	// are only registered by the call, which a healthy server answers at
	// once.
	AttemptTimeout time.Duration
	// Logger gets a warning per failed attempt, with the wait before the
	// next one, and a line when an erasure succeeds after failures.
	Logger *zerolog.Logger
	// OnError, when set, is called after every failed attempt, for an
	// error counter; it must not block.
	OnError func(err error)
}

func (o EraserOptions) withDefaults() EraserOptions {
	if o.MaxRetryInterval <= 0 {
		o.MaxRetryInterval = 5 * time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		l := zerolog.Nop()
		o.Logger = &l
	}
	return o
}

// Eraser runs a service's privacy erasures (EraseContacts,
// EraseCompanyScores), each retried with backoff through a ClickHouse
// outage until ClickHouse takes it or the caller's context ends, as the
// Writer retries its inserts: a deletion waits for ClickHouse, and its
// caller (a Kafka consumer that commits the deletion's offset only after
// the erasure) neither fails nor moves on. The erasures are idempotent,
// so an attempt that failed half-way is simply run again.
type Eraser struct {
	s    *Store
	opts EraserOptions

	mu      sync.Mutex
	waiting int       // erasures under way
	failing time.Time // first failure of the current run of failures
	lastErr error
}

// NewEraser returns an eraser of the store's rows.
func (s *Store) NewEraser(opts EraserOptions) *Eraser {
	return &Eraser{s: s, opts: opts.withDefaults()}
}

// EraseContacts is Store.EraseContacts, retried until it succeeds or ctx
// ends.
func (e *Eraser) EraseContacts(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return e.retry(ctx, "contacts", len(ids), func(ctx context.Context) error { return e.s.EraseContacts(ctx, ids...) })
}

// EraseCompanyScores is Store.EraseCompanyScores, retried until it
// succeeds or ctx ends.
func (e *Eraser) EraseCompanyScores(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return e.retry(ctx, "company_scores", len(ids), func(ctx context.Context) error { return e.s.EraseCompanyScores(ctx, ids...) })
}

// Failing is when the current run of failed attempts began and the last
// error; zero once an attempt succeeds or no erasure is under way.
func (e *Eraser) Failing() (since time.Time, lastErr error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failing, e.lastErr
}

func (e *Eraser) retry(ctx context.Context, what string, n int, erase func(context.Context) error) error {
	e.mu.Lock()
	e.waiting++
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		// Nothing waits for ClickHouse any more (the erasure succeeded,
		// or its caller gave up: a stop, a rebalance): nothing is failing.
		if e.waiting--; e.waiting == 0 {
			e.failing, e.lastErr = time.Time{}, nil
		}
		e.mu.Unlock()
	}()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = e.opts.MaxRetryInterval
	b.MaxElapsedTime = 0 // a deletion is never dropped
	attempt := 0
	op := func() error {
		attempt++
		err := e.attempt(ctx, erase)
		if err != nil && ctx.Err() != nil {
			// Stopping: not ClickHouse's failure.
			if errors.Is(err, ctx.Err()) {
				return backoff.Permanent(fmt.Errorf("erase %d %s: %w", n, what, err))
			}
			return backoff.Permanent(fmt.Errorf("erase %d %s: %w (last attempt: %v)", n, what, ctx.Err(), err))
		}
		e.mu.Lock()
		if err != nil {
			if e.failing.IsZero() {
				e.failing = time.Now()
			}
		} else {
			e.failing = time.Time{}
		}
		e.lastErr = err
		e.mu.Unlock()
		if err != nil && e.opts.OnError != nil {
			e.opts.OnError(err)
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		since, _ := e.Failing()
		ev := e.opts.Logger.Warn().Err(err).Str("erase", what).Int("contacts", n).Int("attempt", attempt).Dur("retry_in", wait)
		if !since.IsZero() {
			ev = ev.Dur("failing_for", time.Since(since).Round(time.Millisecond))
		}
		ev.Msg("ClickHouse erasure failed; retrying: the deletion's batch waits, its offset not committed")
	}
	err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify)
	if err == nil && attempt > 1 {
		e.opts.Logger.Info().Str("erase", what).Int("contacts", n).Int("attempts", attempt).Msg("ClickHouse erasure succeeded after retries")
	}
	return err
}

// attempt runs one erasure within AttemptTimeout, and returns when ctx
// ends even if the call does not: a server that accepts and never answers
// may not notice the cancellation until the attempt's deadline, and a
// stop must not wait for that.
func (e *Eraser) attempt(ctx context.Context, erase func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, e.opts.AttemptTimeout)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- erase(actx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
