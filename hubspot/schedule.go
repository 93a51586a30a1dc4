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
	return MaxSendsInWindow(s.EmailSendOffsetTimes(time.Time{}), window)
}

// EmailSendOffsetTimes is EmailSendOffsets anchored at enrolledAt.
func (s *Sequence) EmailSendOffsetTimes(enrolledAt time.Time) []time.Time {
	return SendTimes(s.EmailSendOffsets(), enrolledAt)
}

// SendTimes anchors send offsets at an enrollment time.
func SendTimes(offsets []time.Duration, enrolledAt time.Time) []time.Time {
	out := make([]time.Time, len(offsets))
	for i, o := range offsets {
		out[i] = enrolledAt.Add(o)
	}
	return out
}

// ProjectedSends projects the emails an inbox sends for a stream of
// enrollments into one sequence: enrolledAt lists the enrollment times, and
// the answer is, for each rolling window ending at a send, the peak count.
// It answers the bridge's question "if I enroll these, does the inbox stay
// under its cap?" without calling HubSpot.
func ProjectedSends(offsets []time.Duration, enrolledAt []time.Time, window time.Duration) int {
	var all []time.Time
	for _, e := range enrolledAt {
		all = append(all, SendTimes(offsets, e)...)
	}
	return MaxSendsInWindow(all, window)
}

// MaxSendsInWindow returns the largest number of times that fall in any
// half-open window [t, t+window). times need not be sorted.
func MaxSendsInWindow(times []time.Time, window time.Duration) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// maxSendsWithNew is the peak count over windows that contain at least one
// of the new send times: the only windows a new enrollment can push over a
// cap. existing and added may be unsorted.
func maxSendsWithNew(existing, added []time.Time, window time.Duration) int {
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
