package enrollment

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
)

const day = 24 * time.Hour

// QuotaStage keeps each sender under daily_enrollments new enrollments and
// daily_sends projected emails in any rolling 24 h. Over quota holds the
// crossing until the window clears; it is not a failure.
type QuotaStage struct {
	Config    *Config
	Ledger    Ledger
	Sequences *SequenceCache
}

// Name implements Stage.
func (*QuotaStage) Name() string { return "quota" }

// Exec implements Stage.
func (s *QuotaStage) Exec(ctx context.Context, a *Attempt) (*Decision, error) {
	if a.Route.Target().Kind != TargetSequence || a.Sender == nil {
		return nil, nil
	}
	info, err := s.Sequences.Get(ctx, a.Route.SequenceID, a.Sender.UserID, a.Now)
	if err != nil {
		if Classify(err) == Permanent {
			// An unknown sequence or a missing scope will not heal by waiting.
			return decide(a, KindFailed, failMessage(err), "sequence steps"), nil
		}
		return held(a, ReasonSinkUnavailable, a.Now.Add(s.Config.Hold.retryAfter), "sequence steps: "+err.Error()), nil
	}
	a.Sequence = &info
	a.Schedule = hubspot.SendTimes(info.EmailOffsets(), a.Now)

	u, err := s.Ledger.SenderUsage(a.Sender.OwnerID)
	if err != nil {
		return nil, err
	}
	// Calls that may have enrolled count until a status check says they
	// did not; the crossing is then looked at again soon, not in a day.
	enrollments, sends, pending := counted(u, a.Now, a.Crossing.CrossingID)
	settleBy := time.Time{}
	if pending > 0 {
		settleBy = a.Now.Add(s.Config.Hold.retryAfter)
	}
	recent := within(enrollments, a.Now.Add(-day), a.Now)
	if len(recent) >= a.Sender.DailyEnrollments {
		// The oldest enrollment in the window leaves it first.
		return held(a, ReasonQuota, earliest(recent[len(recent)-a.Sender.DailyEnrollments].Add(day), settleBy),
			fmt.Sprintf("enrollments %d/%d in 24h%s", len(recent), a.Sender.DailyEnrollments, pendingNote(pending))), nil
	}
	inWindow := within(sends, a.Now.Add(-day), time.Time{})
	if peak := hubspot.MaxSendsWithNew(inWindow, a.Schedule, hubspot.SendWindow); peak > a.Sender.DailySends {
		offsets := info.EmailOffsets()
		return held(a, ReasonQuota, earliest(nextFit(inWindow, offsets, a.Now, a.Sender.DailySends), settleBy),
			fmt.Sprintf("projected sends %d/%d in 24h%s", peak, a.Sender.DailySends, pendingNote(pending))), nil
	}
	return nil, nil
}

// counted is what the quota stage counts against a sender at now: its
// enrollments and projected sends, with the calls that may have enrolled
// in the last 24 h (but the one for crossing skip), and how many of
// those there are.
func counted(u SenderUsage, now time.Time, skip string) (enrollments, sends []time.Time, pending int) {
	enrollments, sends = u.Enrollments, u.Sends
	for _, p := range u.Pending {
		if p.CrossingID == skip || !p.At.After(now.Add(-day)) {
			continue
		}
		enrollments = append(slices.Clone(enrollments), p.At)
		sends = append(slices.Clone(sends), p.Sends...)
		pending++
	}
	return enrollments, sends, pending
}

// SenderQuota is one sender's use of its caps at a moment, counted as the
// quota stage counts it before an enrollment: rolling 24 h windows
// (hubspot.SendWindow), calls that may have enrolled included.
type SenderQuota struct {
	OwnerID string `json:"owner_id"`
	Email   string `json:"email"`
	// Enrollments in the last 24 h against daily_enrollments.
	Enrollments    int `json:"enrollments"`
	EnrollmentsCap int `json:"daily_enrollments"`
	// Pending of those are calls that may have enrolled (no status check
	// has settled them yet).
	Pending int `json:"pending_calls"`
	// ProjectedSends is the most emails already scheduled from this
	// sender's enrollments in any send window that has not closed yet,
	// against daily_sends.
	ProjectedSends int    `json:"projected_sends"`
	SendsCap       int    `json:"daily_sends"`
	Window         string `json:"window"`
	// AtCap: the next sequence enrollment would be held for quota on the
	// enrollment count (the send count depends on the sequence).
	AtCap bool `json:"at_enrollment_cap"`
	// FreesAt is when the oldest enrollment in the window leaves it
	// (zero when the window is empty).
	FreesAt time.Time `json:"frees_at,omitzero"`
	// HeldForQuota are this sender's crossings held for quota now, and
	// NextRelease the earliest time one of them is tried again.
	HeldForQuota int       `json:"held_for_quota"`
	NextRelease  time.Time `json:"next_release,omitzero"`
}

// QuotaUse reports each configured sender's quota use at now, in the
// configuration's order, from the ledger and the held queue.
func QuotaUse(cfg *Config, l Ledger, held []HeldItem, now time.Time) ([]SenderQuota, error) {
	out := make([]SenderQuota, 0, len(cfg.Senders))
	for _, sc := range cfg.Senders {
		u, err := l.SenderUsage(sc.OwnerID)
		if err != nil {
			return nil, fmt.Errorf("sender %s: %w", sc.OwnerID, err)
		}
		enrollments, sends, pending := counted(u, now, "")
		recent := within(enrollments, now.Add(-day), now)
		q := SenderQuota{OwnerID: sc.OwnerID, Email: sc.Email, Enrollments: len(recent), EnrollmentsCap: sc.DailyEnrollments,
			Pending: pending, SendsCap: sc.DailySends, Window: hubspot.SendWindow.String(),
			ProjectedSends: hubspot.MaxSendsWithNew(nil, within(sends, now.Add(-day), time.Time{}), hubspot.SendWindow),
			AtCap:          len(recent) >= sc.DailyEnrollments}
		if len(recent) > 0 {
			q.FreesAt = recent[0].Add(day).UTC()
		}
		for _, h := range held {
			if h.Decision.OwnerID != sc.OwnerID || h.Decision.Reason != ReasonQuota {
				continue
			}
			q.HeldForQuota++
			if nb := h.Decision.NotBefore; q.NextRelease.IsZero() || nb.Before(q.NextRelease) {
				q.NextRelease = nb.UTC()
			}
		}
		out = append(out, q)
	}
	return out, nil
}

// earliest is the sooner of two times, zero meaning none.
func earliest(t, u time.Time) time.Time {
	if u.IsZero() || t.Before(u) {
		return t
	}
	return u
}

func pendingNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (with %d call(s) that may have enrolled)", n)
}

// within returns the sorted times after from and, unless to is zero, not
// after to.
func within(ts []time.Time, from, to time.Time) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if t.After(from) && (to.IsZero() || !t.After(to)) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// nextFit is the earliest time the sequence's sends fit under the cap. A
// window's count only drops when one of the new sends moves 24 h past an
// existing send, so the candidates are the moments s + 24h - offset.
func nextFit(existing []time.Time, offsets []time.Duration, now time.Time, limit int) time.Time {
	var cands []time.Time
	for _, s := range existing {
		for _, o := range offsets {
			if at := s.Add(day - o); at.After(now) {
				cands = append(cands, at)
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	for _, at := range cands {
		if hubspot.MaxSendsWithNew(within(existing, at.Add(-day), time.Time{}), hubspot.SendTimes(offsets, at), hubspot.SendWindow) <= limit {
			return at
		}
	}
	last := now
	if len(existing) > 0 {
		last = existing[len(existing)-1]
	}
	return last.Add(day)
}

// SequenceCache remembers sequence steps for an hour: they change rarely
// and every enrollment needs them.
type SequenceCache struct {
	Sink  Sink
	TTL   time.Duration
	Retry Retry

	mu      sync.Mutex
	entries map[string]cachedSequence
}

type cachedSequence struct {
	info    SequenceInfo
	fetched time.Time
}

// NewSequenceCache caches sink.Sequence answers for an hour.
func NewSequenceCache(sink Sink) *SequenceCache {
	return &SequenceCache{Sink: sink, TTL: time.Hour, entries: map[string]cachedSequence{}}
}

// Get returns the sequence's steps, asking the sink when not cached.
func (c *SequenceCache) Get(ctx context.Context, sequenceID, userID string, now time.Time) (SequenceInfo, error) {
	key := sequenceID + "\x00" + userID
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.TTL {
		return e.info, nil
	}
	var info SequenceInfo
	err := c.Retry.Idempotent(ctx, func() error {
		var err error
		info, err = c.Sink.Sequence(ctx, sequenceID, userID)
		return err
	})
	if err != nil {
		return SequenceInfo{}, err
	}
	c.mu.Lock()
	c.entries[key] = cachedSequence{info: info, fetched: now}
	c.mu.Unlock()
	return info, nil
}
