package enrollment

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/hubspot"
)

// HubSpotSink adapts *hubspot.Client to Sink, translating its errors into
// the failure classes the Send stage acts on. The bridge runs the client
// with one attempt per call (ClientConfig.MaxAttempts 1): the Retry loop
// is the one that retries, and the client's limiter and 429 pause stay in
// force. The client never verifies an ambiguous enrollment: the bridge's
// StatusChecker does, once.
type HubSpotSink struct {
	Client *hubspot.Client
}

// Enroll implements Sink.
func (h HubSpotSink) Enroll(ctx context.Context, r EnrollRequest) (Enrollment, error) {
	enr, err := h.Client.Enroll(ctx, hubspot.EnrollRequest{UserID: r.UserID, ContactID: r.ContactID,
		SequenceID: r.SequenceID, SenderEmail: r.SenderEmail})
	if err != nil {
		return Enrollment{}, hubspotError(err, true)
	}
	return Enrollment{ID: enr.ID, SequenceID: r.SequenceID, EnrolledAt: enr.EnrolledAt}, nil
}

// EnrollHooked implements HookedSink: beforeSend runs in the client's
// send hook (hubspot.WithSendHook), after the limiter, with the call's
// api_calls row when the client records calls before they are sent.
func (h HubSpotSink) EnrollHooked(ctx context.Context, r EnrollRequest, beforeSend func(start *analytics.APICall) error) (Enrollment, error) {
	var hookErr error
	ctx = hubspot.WithSendHook(ctx, func(c hubspot.Call, startAudited bool) error {
		var start *analytics.APICall
		if startAudited {
			ref, _ := c.Tag.(CallRef)
			row := APICallRow(c, ref.CrossingID)
			start = &row
		}
		hookErr = beforeSend(start)
		return hookErr
	})
	enr, err := h.Enroll(ctx, r)
	if hookErr != nil {
		return Enrollment{}, hookErr
	}
	return enr, err
}

// Status implements Sink.
func (h HubSpotSink) Status(ctx context.Context, contactID string) (*Enrollment, error) {
	ce, err := h.Client.GetContactEnrollment(ctx, contactID)
	switch {
	case errors.Is(err, hubspot.ErrNotEnrolled):
		return nil, nil
	case err != nil:
		return nil, hubspotError(err, false)
	}
	return &Enrollment{ID: ce.ID, SequenceID: ce.SequenceID, EnrolledBy: ce.EnrolledBy, EnrolledAt: ce.EnrolledAt}, nil
}

// Sequence implements Sink.
func (h HubSpotSink) Sequence(ctx context.Context, sequenceID, userID string) (SequenceInfo, error) {
	s, err := h.Client.GetSequence(ctx, sequenceID, userID)
	if err != nil {
		return SequenceInfo{}, hubspotError(err, false)
	}
	info := SequenceInfo{ID: s.ID}
	for _, st := range s.Steps {
		info.Steps = append(info.Steps, Step{Order: st.StepOrder, Delay: time.Duration(st.DelayMillis) * time.Millisecond, Action: st.ActionType})
	}
	return info, nil
}

// EnrollWorkflow implements Sink.
func (h HubSpotSink) EnrollWorkflow(ctx context.Context, workflowID, email string) error {
	return hubspotError(h.Client.EnrollWorkflow(ctx, workflowID, email), false)
}

// UnenrollWorkflow implements Sink.
func (h HubSpotSink) UnenrollWorkflow(ctx context.Context, workflowID, email string) error {
	return hubspotError(h.Client.UnenrollWorkflow(ctx, workflowID, email), false)
}

// Workflows implements Sink. HubSpot's contact id is the vid.
func (h HubSpotSink) Workflows(ctx context.Context, contactID string) ([]string, error) {
	ws, err := h.Client.GetWorkflowEnrollments(ctx, contactID)
	if err != nil {
		return nil, hubspotError(err, false)
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = strconv.FormatInt(w.ID, 10)
	}
	return out, nil
}

// hubspotError classifies the client's errors. enroll marks the one call
// that is not idempotent: there a 5xx or a sent-then-lost request is
// ambiguous; elsewhere repeating is harmless, so they count as retryable.
func hubspotError(err error, enroll bool) error {
	if err == nil {
		return nil
	}
	se := &SinkError{Class: Ambiguous, Err: err, Message: err.Error()}
	var ae *hubspot.APIError
	var te *hubspot.TransportError
	switch {
	case hubspot.IsAlreadyEnrolled(err):
		se.Class = AlreadyEnrolled
	case errors.Is(err, hubspot.ErrSendLimit):
		se.Class = OverSendLimit
	case errors.Is(err, hubspot.ErrAmbiguous):
		se.Class = Ambiguous
	case errors.As(err, &ae):
		se.Status, se.RetryAfter = ae.Status, ae.RetryAfter
		if ae.Message != "" {
			se.Message = ae.Message
		}
		se.Class = ClassifyStatus(ae.Status, false)
		if !enroll && (ae.Status >= 500 || ae.Status == http.StatusRequestTimeout) {
			se.Class = Retryable
		}
	case errors.As(err, &te):
		se.Class = Retryable
		if te.Sent && enroll {
			se.Class = Ambiguous
		}
	case !enroll:
		se.Class = Retryable
	}
	return se
}
