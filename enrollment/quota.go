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
	enrollments, sends, settleBy, pending := u.Enrollments, u.Sends, time.Time{}, 0
	for _, p := range u.Pending {
		if p.CrossingID == a.Crossing.CrossingID || !p.At.After(a.Now.Add(-day)) {
			continue
		}
		enrollments = append(slices.Clone(enrollments), p.At)
		sends = append(slices.Clone(sends), p.Sends...)
		settleBy = a.Now.Add(s.Config.Hold.retryAfter)
		pending++
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
