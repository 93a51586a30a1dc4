package enrollment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
)

// Recorder receives decisions for the audit (ClickHouse `decisions`). It is
// fed from the store's outbox, so a decision reaches it at least once; its
// rows carry crossing_id and decided_at to de-duplicate on.
type Recorder interface {
	RecordDecisions(ctx context.Context, ds []Decision) error
}

// Bridge decides crossings: pipeline, then the store. Decisions that share
// a contact, a company or a sender are serialised, so quotas and
// exclusivity see every enrollment made before them; others run in
// parallel. Held releases, recovery and workflow-exit retries run one at a
// time (batch) and take the same per-crossing locks.
type Bridge struct {
	Config   *Config
	Store    *Store
	Sink     Sink
	Recorder Recorder // optional
	Now      func() time.Time
	Log      zerolog.Logger

	pipeline MultiStage
	keys     keyedLocks
	batch    sync.Mutex // one ReleaseHeld / Recover / RetryUnenrolls at a time
}

// NewBridge wires the standard pipeline; retry is the policy of its sink
// calls (the zero Retry takes the defaults).
func NewBridge(cfg *Config, store *Store, sink Sink, rec Recorder, now func() time.Time, retry Retry) *Bridge {
	if now == nil {
		now = time.Now
	}
	return &Bridge{Config: cfg, Store: store, Sink: sink, Recorder: rec, Now: now,
		Log: zerolog.Nop(), pipeline: Pipeline(cfg, store, sink, retry)}
}

// Result is the outcome of handing the bridge a crossing.
type Result struct {
	Decision Decision
	// Duplicate: the crossing was decided (or is held) already; nothing
	// was done or recorded again.
	Duplicate bool
}

// Handle decides one crossing. When it returns without error the decision
// is durable (the Kafka offset may be committed); with an error nothing
// was decided and the crossing must be redelivered.
func (b *Bridge) Handle(ctx context.Context, c events.Crossing) (Result, error) {
	c = b.Config.chooseMember(c) // a company crossing becomes its member's (account.go)
	held := b.keys.acquire(crossingKeys(c)...)
	defer held.unlock()
	if d, ok, err := b.Store.Processed(c.CrossingID); err != nil || ok {
		return Result{Decision: d, Duplicate: ok}, err
	}
	if h, ok, err := b.Store.HeldCrossing(c.CrossingID); err != nil || ok {
		return Result{Decision: h.Decision, Duplicate: ok}, err
	}
	d, err := b.decide(ctx, c, held)
	if err != nil {
		return Result{}, err
	}
	return Result{Decision: *d}, nil
}

// withCrossing labels the sink calls made under ctx with the crossing id
// (CallRef), whatever path the crossing takes.
func withCrossing(ctx context.Context, crossingID string) context.Context {
	return withCallRef(ctx, CallRef{CrossingID: crossingID})
}

// decide runs the pipeline and records the decision under the crossing's
// locks (held). Exits from conflicting workflows are queued with the
// decision and made afterwards, holding the contact's lock only.
func (b *Bridge) decide(ctx context.Context, c events.Crossing, held *heldKeys) (*Decision, error) {
	if c.ThresholdName == "" {
		c.ThresholdName = events.DefaultThreshold
	}
	ctx = withCrossing(ctx, c.CrossingID)
	a := &Attempt{Crossing: c, Now: b.Now(), leaveLater: true}
	d, err := b.pipeline.Exec(ctx, a)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("crossing %s: no stage decided", c.CrossingID)
	}
	if err := b.Store.Apply(a, d); err != nil {
		return nil, fmt.Errorf("crossing %s contact %s: record decision %s: %w", c.CrossingID, c.ContactID, d.Outcome, err)
	}
	b.Log.Info().Str("crossing_id", c.CrossingID).Str("contact_id", c.ContactID).Str("model", c.Model).
		Str("decision", d.Outcome).Str("stage", d.Stage).Msg("decided")
	if len(d.UnenrollPending) == 0 {
		return d, nil
	}
	// The enrollment is durable and counted: the sender's and the
	// company's next decisions need not wait for the workflow calls.
	held.unlockExcept("contact:" + c.ContactID)
	out := *d
	if err := b.leave(ctx, a, &out); err != nil {
		// The exits stay queued for RetryUnenrolls; the decision stands.
		b.Log.Warn().Err(err).Str("crossing_id", c.CrossingID).Str("contact_id", c.ContactID).Msg("leave conflicting workflows")
	}
	return &out, nil
}

// leave makes the queued exits of a sequence enrollment d from its
// conflicting workflows, one call each (the client retries on its own): a
// success is recorded as workflow_unenrolled, a permanent refusal as
// failed:unenroll, and any other failure stays queued for RetryUnenrolls,
// due at once. d gets Unenrolled and UnenrollFailed for the caller.
func (b *Bridge) leave(ctx context.Context, a *Attempt, d *Decision) error {
	current, known := b.currentWorkflows(ctx, a.Crossing.ContactID)
	for _, w := range d.UnenrollPending {
		p, ok, err := b.Store.pendingUnenroll(PendingUnenroll{ContactID: d.ContactID, WorkflowID: w}.key())
		if err != nil {
			return err
		}
		if !ok || p.CrossingID != d.CrossingID {
			continue
		}
		if known && !slices.Contains(current, w) {
			// Not in it: nothing to leave, nothing to record.
			if err := b.Store.ResolveUnenroll(p, true, nil); err != nil {
				return err
			}
			continue
		}
		err = b.Sink.UnenrollWorkflow(ctx, w, p.Email)
		if err != nil && Classify(err) != Permanent {
			d.UnenrollFailed = append(d.UnenrollFailed, w)
			if known && p.Unverified {
				p.Unverified = false // the contact is in it: the retry need not ask
				if err := b.Store.ResolveUnenroll(p, false, nil); err != nil {
					return err
				}
			}
			continue
		}
		rec := unenrollDecision(p, b.Now(), err, "left on enrollment")
		if err != nil {
			d.UnenrollFailed = append(d.UnenrollFailed, w)
		} else {
			d.Unenrolled = append(d.Unenrolled, w)
		}
		if err := b.Store.ResolveUnenroll(p, true, rec); err != nil {
			return err
		}
	}
	return nil
}

// currentWorkflows is what the ledger and HubSpot know of the contact's
// workflows; known is false when HubSpot's list could not be read, and
// every conflicting workflow is then left (leaving one the contact is not
// in is harmless).
func (b *Bridge) currentWorkflows(ctx context.Context, contactID string) ([]string, bool) {
	var current []string
	if st, err := b.Store.Contact(contactID); err == nil {
		current = append(current, st.Workflows...)
	}
	remote, err := b.Sink.Workflows(ctx, contactID)
	switch {
	case err == nil:
		return append(current, remote...), true
	case errors.Is(err, ErrStatusUnknown):
		return current, true
	}
	return nil, false
}

// unenrollDecision audits the outcome of an exit from a conflicting
// workflow under the sequence's crossing id.
func unenrollDecision(p PendingUnenroll, now time.Time, err error, detail string) *Decision {
	d := &Decision{CrossingID: p.CrossingID, ContactID: p.ContactID, Kind: KindWorkflowUnenrolled,
		Target: &Target{Kind: TargetWorkflow, ID: p.WorkflowID}, InSequence: p.SequenceID, Stage: "unenroll",
		Outcome: string(KindWorkflowUnenrolled), DecidedAt: now.UTC(), Detail: detail}
	if err != nil {
		// HubSpot refuses for good (e.g. the workflow was deleted): the
		// contact cannot be in it; recorded and dropped.
		d.Kind, d.Reason, d.Outcome = KindFailed, ReasonUnenroll, "failed:"+ReasonUnenroll
		d.Detail = failMessage(err)
	}
	return d
}

// ReleaseHeld decides again every held crossing whose time has come,
// highest score first so the best leads get the freed quota. Crossings held
// longer than hold.max_age are given up as failed:hold_expired.
func (b *Bridge) ReleaseHeld(ctx context.Context) ([]Decision, error) {
	b.batch.Lock()
	defer b.batch.Unlock()
	now := b.Now()
	due, err := b.Store.Due(now)
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, h := range due {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		d, err := b.release(ctx, h, now)
		if err != nil {
			return out, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (b *Bridge) release(ctx context.Context, h HeldItem, now time.Time) (*Decision, error) {
	held := b.keys.acquire(crossingKeys(h.Crossing)...)
	defer held.unlock()
	// Check under the lock that it is still held.
	if _, still, err := b.Store.HeldCrossing(h.Crossing.CrossingID); err != nil || !still {
		return nil, err
	}
	maxAge := b.Config.Hold.maxAge
	if maxAge <= 0 || now.Sub(h.HeldSince) <= maxAge {
		return b.decide(ctx, h.Crossing, held)
	}
	a := &Attempt{Crossing: h.Crossing, Now: now}
	d := &Decision{Kind: KindFailed, Reason: ReasonHoldExpired, Target: h.Decision.Target, Stage: "hold",
		Detail: "held since " + h.HeldSince.UTC().Format(time.RFC3339) + " (" + h.Decision.Outcome + ")"}
	d.fill(a)
	if err := b.Store.Apply(a, d); err != nil {
		return nil, err
	}
	return d, nil
}

// RetryUnenrolls takes contacts out of conflicting workflows that failed to
// let them go when they entered a sequence (a workflow API outage). Each
// success is recorded as a workflow_unenrolled decision for the sequence's
// crossing; failures back off up to an hour.
func (b *Bridge) RetryUnenrolls(ctx context.Context) ([]Decision, error) {
	b.batch.Lock()
	defer b.batch.Unlock()
	now := b.Now()
	due, err := b.Store.PendingUnenrolls(now)
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, p := range due {
		d, err := b.retryUnenroll(ctx, p, now)
		if err != nil {
			return out, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (b *Bridge) retryUnenroll(ctx context.Context, p PendingUnenroll, now time.Time) (*Decision, error) {
	defer b.keys.lock("contact:" + p.ContactID)()
	// The enrollment's own exit may have settled it while we waited.
	if _, still, err := b.Store.pendingUnenroll(p.key()); err != nil || !still {
		return nil, err
	}
	ctx = withCrossing(ctx, p.CrossingID)
	var err error
	if p.Unverified {
		// Queued before anyone knew whether the contact is in it.
		current, known := b.currentWorkflows(ctx, p.ContactID)
		switch {
		case known && !slices.Contains(current, p.WorkflowID):
			return nil, b.Store.ResolveUnenroll(p, true, nil)
		case !known:
			err = fmt.Errorf("contact %s: workflow list unavailable", p.ContactID)
		}
	}
	if err == nil {
		err = b.Sink.UnenrollWorkflow(ctx, p.WorkflowID, p.Email)
	}
	if err != nil && Classify(err) != Permanent {
		p.Attempts++
		p.NotBefore = now.Add(backoffAfter(p.Attempts, b.Config.Hold.retryAfter, time.Hour))
		return nil, b.Store.ResolveUnenroll(p, false, nil)
	}
	d := unenrollDecision(p, now, err, fmt.Sprintf("left after %d retries since %s", p.Attempts+1, p.Since.UTC().Format(time.RFC3339)))
	d.Stage = "unenroll_retry"
	if err := b.Store.ResolveUnenroll(p, true, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Recover decides again the crossings whose sink call was interrupted by a
// crash and that are not waiting in the held queue (those are released in
// turn). The Send stage finds their intent and checks the status first.
func (b *Bridge) Recover(ctx context.Context) ([]Decision, error) {
	b.batch.Lock()
	defer b.batch.Unlock()
	intents, err := b.Store.Intents()
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, in := range intents {
		d, err := b.recoverOne(ctx, in)
		if err != nil {
			return out, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (b *Bridge) recoverOne(ctx context.Context, in Intent) (*Decision, error) {
	held := b.keys.acquire(crossingKeys(in.Crossing)...)
	defer held.unlock()
	id := in.Crossing.CrossingID
	if _, done, err := b.Store.Processed(id); err != nil || done {
		return nil, err
	}
	if _, isHeld, err := b.Store.HeldCrossing(id); err != nil || isHeld {
		return nil, err
	}
	return b.decide(ctx, in.Crossing, held)
}

// FlushOutbox hands pending decisions to the Recorder in batches and
// removes them once accepted, then the api_calls rows (to a Recorder that
// is a CallRecorder). A failing Recorder leaves them for later. Without a
// Recorder the outboxes are emptied so they cannot grow unbounded.
func (b *Bridge) FlushOutbox(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		entries, err := b.Store.Outbox(batch)
		if err != nil {
			return total, err
		}
		if len(entries) == 0 {
			break
		}
		ds := make([]Decision, len(entries))
		for i, e := range entries {
			ds[i] = e.Decision
		}
		if b.Recorder != nil {
			if err := b.Recorder.RecordDecisions(ctx, ds); err != nil {
				return total, fmt.Errorf("record %d decisions: %w", len(ds), err)
			}
		}
		if err := b.Store.AckOutbox(entries); err != nil {
			return total, err
		}
		total += len(entries)
		if len(entries) < batch {
			break
		}
	}
	_, err := b.FlushCalls(ctx, batch)
	return total, err
}

// FlushCalls hands the api_calls rows to the Recorder (when it is a
// CallRecorder) and removes them once accepted.
func (b *Bridge) FlushCalls(ctx context.Context, batch int) (int, error) {
	rec, _ := b.Recorder.(CallRecorder)
	total := 0
	for {
		entries, err := b.Store.CallOutbox(batch)
		if err != nil || len(entries) == 0 {
			return total, err
		}
		if rec != nil {
			rows := make([]analytics.APICall, len(entries))
			for i, e := range entries {
				rows[i] = e.Row
			}
			if err := rec.RecordAPICalls(ctx, rows); err != nil {
				return total, fmt.Errorf("record %d api calls: %w", len(rows), err)
			}
		}
		if err := b.Store.AckCalls(entries); err != nil {
			return total, err
		}
		total += len(entries)
		if len(entries) < batch {
			return total, nil
		}
	}
}
