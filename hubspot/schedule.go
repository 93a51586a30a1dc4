package hubspot

import (
	"slices"
	"time"
)

// SendWindow is the rolling window over which HubSpot caps the emails an
// inbox sends.
const SendWindow = 24 * time.Hour

// EmailSendOffsets returns, for one enrollment, when each automated email
// step goes out relative to the enrollment time. Delays accumulate step
// after step and are taken as elapsed time: business-day and send-window
// settings are ignored, which can only make sends look closer together
// (the projection errs on the side of the cap).
func (s *Sequence) EmailSendOffsets() []time.Duration {
	steps := slices.Clone(s.Steps)
	slices.SortStableFunc(steps, func(a, b Step) int { return a.StepOrder - b.StepOrder })
	var at time.Duration
	var out []time.Duration
	for _, st := range steps {
		at += time.Duration(st.DelayMillis) * time.Millisecond
		if st.ActionType == ActionEmail {
			out = append(out, at)
		}
	}
	return out
}

// PeakSendsPerWindow is the largest number of emails one enrollment sends in
// any rolling window of the given length (use SendWindow for HubSpot's).
func (s *Sequence) PeakSendsPerWindow(window time.Duration) int {
	return MaxSendsWithNew(nil, SendTimes(s.EmailSendOffsets(), time.Time{}), window)
}

// SendTimes anchors send offsets at an enrollment time.
func SendTimes(offsets []time.Duration, enrolledAt time.Time) []time.Time {
	out := make([]time.Time, len(offsets))
	for i, o := range offsets {
		out[i] = enrolledAt.Add(o)
	}
	return out
}

// MaxSendsWithNew is the send-window arithmetic both HubSpot (the sandbox's
// SEND_LIMIT_EXCEEDED) and the bridge's quota stage use: the largest number
// of sends in any half-open window [t, t+window) that holds at least one
// of the added sends. Windows without them are not the new enrollment's
// business: only they can push an inbox over its cap. existing and added
// may be unsorted; with no existing sends it is the enrollment's own peak.
func MaxSendsWithNew(existing, added []time.Time, window time.Duration) int {
	type mark struct {
		t   time.Time
		new bool
	}
	ms := make([]mark, 0, len(existing)+len(added))
	for _, t := range existing {
		ms = append(ms, mark{t, false})
	}
	for _, t := range added {
		ms = append(ms, mark{t, true})
	}
	slices.SortFunc(ms, func(a, b mark) int { return a.t.Compare(b.t) })
	best, lo, newIn := 0, 0, 0
	for hi := range ms {
		if ms[hi].new {
			newIn++
		}
		for ms[hi].t.Sub(ms[lo].t) >= window {
			if ms[lo].new {
				newIn--
			}
			lo++
		}
		if newIn > 0 {
			best = max(best, hi-lo+1)
		}
	}
	return best
}
