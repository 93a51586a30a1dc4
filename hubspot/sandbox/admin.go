package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// FaultsPatch changes some faults at run time; absent fields keep
// their value. Latency is a Go duration string ("250ms").
type FaultsPatch struct {
	ErrorRate            *float64 `json:"error_rate,omitempty"`
	Seed                 *uint64  `json:"seed,omitempty"`
	FailNext             *int     `json:"fail_next,omitempty"`
	Latency              *string  `json:"latency,omitempty"`
	DropAfterEnrollRate  *float64 `json:"drop_after_enroll_rate,omitempty"`
	DropAfterEnrollNext  *int     `json:"drop_after_enroll_next,omitempty"`
	ErrorAfterEnrollNext *int     `json:"error_after_enroll_next,omitempty"`
	AnswerDelay          *string  `json:"answer_delay,omitempty"` // a Go duration, like Latency
}

// Event is a simulated contact activity that makes HubSpot unenroll
// the contact from its sequence.
type Event struct {
	ContactID string `json:"contactId"`
	// Type is REPLIED, MEETING_BOOKED, UNSUBSCRIBED or BOUNCED.
	Type string `json:"type"`
}

// State is the answer of GET /_sandbox/enrollments.
type State struct {
	Sequences []Enrollment    `json:"sequences"`
	Workflows []WorkflowEvent `json:"workflows"`
}

func (s *Sandbox) registerAdmin(m *http.ServeMux) {
	m.HandleFunc("GET /_sandbox/enrollments", func(w http.ResponseWriter, r *http.Request) {
		st := s.State()
		if id := r.URL.Query().Get("contactId"); id != "" {
			st = st.forContact(id)
		}
		writeJSON(w, http.StatusOK, st)
	})
	m.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, faultsJSON(s.Faults()))
	})
	m.HandleFunc("POST /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var p FaultsPatch
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			adminError(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		f, err := s.PatchFaults(p)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, faultsJSON(f))
	})
	m.HandleFunc("POST /_sandbox/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sandbox/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	m.HandleFunc("POST /_sandbox/events", func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			adminError(w, http.StatusBadRequest, "event: "+err.Error())
			return
		}
		e, err := s.Unenroll(ev.ContactID, ev.Type)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	m.HandleFunc("POST /_sandbox/clock", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Advance string `json:"advance"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			adminError(w, http.StatusBadRequest, "clock: "+err.Error())
			return
		}
		d, err := adminDuration(body.Advance)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("clock: advance %q: want a duration such as 25h or 1d", body.Advance))
			return
		}
		writeJSON(w, http.StatusOK, map[string]time.Time{"now": s.Advance(d)})
	})
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"status": "error", "message": msg})
}

func faultsJSON(f Faults) map[string]any {
	return map[string]any{
		"error_rate": f.ErrorRate, "seed": f.Seed, "fail_next": f.FailNext,
		"latency": f.Latency.String(), "drop_after_enroll_rate": f.DropAfterEnrollRate,
		"drop_after_enroll_next": f.DropAfterEnrollNext, "error_after_enroll_next": f.ErrorAfterEnrollNext,
		"answer_delay": f.AnswerDelay.String(),
	}
}

// Faults returns the faults in force.
func (s *Sandbox) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the faults in force and reseeds the fault generator.
func (s *Sandbox) SetFaults(f Faults) error {
	if errs := f.validate(); len(errs) > 0 {
		return fmt.Errorf("faults: %v", errs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = newFaultRand(f.Seed)
	return nil
}

// PatchFaults changes the faults named in p.
func (s *Sandbox) PatchFaults(p FaultsPatch) (Faults, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if p.ErrorRate != nil {
		f.ErrorRate = *p.ErrorRate
	}
	if p.Seed != nil {
		f.Seed = *p.Seed
	}
	if p.FailNext != nil {
		f.FailNext = *p.FailNext
	}
	if p.Latency != nil {
		d, err := adminDuration(*p.Latency)
		if err != nil {
			return s.faults, fmt.Errorf("faults: latency: %w", err)
		}
		f.Latency = d
	}
	if p.AnswerDelay != nil {
		d, err := adminDuration(*p.AnswerDelay)
		if err != nil {
			return s.faults, fmt.Errorf("faults: answer_delay: %w", err)
		}
		f.AnswerDelay = d
	}
	if p.DropAfterEnrollRate != nil {
		f.DropAfterEnrollRate = *p.DropAfterEnrollRate
	}
	if p.DropAfterEnrollNext != nil {
		f.DropAfterEnrollNext = *p.DropAfterEnrollNext
	}
	if p.ErrorAfterEnrollNext != nil {
		f.ErrorAfterEnrollNext = *p.ErrorAfterEnrollNext
	}
	if errs := f.validate(); len(errs) > 0 {
		return s.faults, fmt.Errorf("faults: %v", errs)
	}
	if p.Seed != nil { // an explicit seed restarts the sequence of draws
		s.rng = newFaultRand(f.Seed)
	}
	s.faults = f
	return f, nil
}

// Reset forgets every enrollment, counter, clock advance and fault change.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// Stats returns the counters since the last reset.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Advance moves the sandbox clock forward and returns the new time.
func (s *Sandbox) Advance(d time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clockSkew += d
	return s.clock()
}

// State returns every sequence enrollment ever stored (active or ended) and
// the workflow enrollment log, oldest first.
func (s *Sandbox) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.clock())
	st := State{Sequences: make([]Enrollment, 0, len(s.enrolls)), Workflows: append([]WorkflowEvent{}, s.wfLog...)}
	for _, e := range s.enrolls {
		c := *e
		c.sends = nil
		st.Sequences = append(st.Sequences, c)
	}
	return st
}

// Unenroll ends a contact's active enrollment as HubSpot does when the
// contact replies, books a meeting, unsubscribes or bounces. Its remaining
// emails no longer count against the sender's cap.
func (s *Sandbox) Unenroll(contactID, reason string) (Enrollment, error) {
	switch reason {
	case "REPLIED", "MEETING_BOOKED", "UNSUBSCRIBED", "BOUNCED":
	default:
		return Enrollment{}, fmt.Errorf("event type %q: want REPLIED, MEETING_BOOKED, UNSUBSCRIBED or BOUNCED", reason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	s.expireLocked(now)
	e, ok := s.active[contactID]
	if !ok {
		return Enrollment{}, fmt.Errorf("contact %s has no active sequence enrollment", contactID)
	}
	e.EndedAt, e.EndReason = &now, reason
	delete(s.active, contactID)
	c := *e
	c.sends = nil
	return c, nil
}

func (st State) forContact(id string) State {
	out := State{Sequences: []Enrollment{}, Workflows: []WorkflowEvent{}}
	for _, e := range st.Sequences {
		if e.ContactID == id {
			out.Sequences = append(out.Sequences, e)
		}
	}
	for _, e := range st.Workflows {
		if e.ContactID == id {
			out.Workflows = append(out.Workflows, e)
		}
	}
	return out
}

// adminDuration reads a duration of the admin API as the configuration
// file's (the dialect's: 150ms, 25h, 1d; 0 of any unit is zero).
func adminDuration(s string) (time.Duration, error) {
	var v dialect.DurationValue
	err := v.Set(s)
	return time.Duration(v), err
}
