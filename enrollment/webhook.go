package enrollment

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Webhook headers.
const (
	HeaderSignature      = "X-Scorebridge-Signature" // sha256=<hex HMAC-SHA256 of the body>
	HeaderTimestamp      = "X-Scorebridge-Timestamp" // unix seconds, equal to the body's sent_at
	HeaderIdempotencyKey = "Idempotency-Key"         // the crossing id (enrollments)
)

// Webhook is the webhook sink: each action is a signed JSON POST to one
// URL, for middleware (Zapier, another sales engagement tool). It cannot
// report enrollments, so the bridge relies on its own ledger and on the
// receiver de-duplicating by Idempotency-Key.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client
	Now    func() time.Time
	// Steps is the sequence assumed for the send projection (one email).
	Steps []Step
}

// WebhookSecret reads the secret the configuration names.
func WebhookSecret(c WebhookConfig) ([]byte, error) {
	if c.SecretEnv != "" {
		v := os.Getenv(c.SecretEnv)
		if v == "" {
			return nil, fmt.Errorf("webhook secret: environment variable %s is empty", c.SecretEnv)
		}
		return []byte(v), nil
	}
	b, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("webhook secret: %s is empty", c.SecretFile)
	}
	return []byte(s), nil
}

// WebhookPayload is the body of every webhook call.
type WebhookPayload struct {
	Action      string `json:"action"` // sequence.enroll, workflow.enroll, workflow.unenroll
	SentAt      int64  `json:"sent_at"`
	CrossingID  string `json:"crossing_id,omitempty"`
	ContactID   string `json:"contact_id,omitempty"`
	Email       string `json:"email,omitempty"`
	SequenceID  string `json:"sequence_id,omitempty"`
	WorkflowID  string `json:"workflow_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	SenderEmail string `json:"sender_email,omitempty"`
}

// Sign returns the signature header value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a signature header in constant time; receivers
// written in Go can use it.
func VerifySignature(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

func (w *Webhook) post(ctx context.Context, p WebhookPayload, idemKey string) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	p.SentAt = now().Unix()
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return &SinkError{Class: Permanent, Message: err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(p.SentAt, 10))
	if idemKey != "" {
		req.Header.Set(HeaderIdempotencyKey, idemKey)
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return &SinkError{Class: Classify(err), Message: err.Error(), Err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &SinkError{Class: ClassifyStatus(resp.StatusCode, false), Status: resp.StatusCode,
		Message: strings.TrimSpace(string(msg))}
	if se.Message == "" {
		se.Message = http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		se.RetryAfter = time.Duration(s) * time.Second
	}
	return se
}

// Enroll implements Sink.
func (w *Webhook) Enroll(ctx context.Context, r EnrollRequest) (Enrollment, error) {
	err := w.post(ctx, WebhookPayload{Action: "sequence.enroll", CrossingID: r.CrossingID, ContactID: r.ContactID,
		SequenceID: r.SequenceID, UserID: r.UserID, SenderEmail: r.SenderEmail}, r.CrossingID)
	if err != nil {
		return Enrollment{}, err
	}
	return Enrollment{ID: "webhook-" + r.CrossingID, SequenceID: r.SequenceID}, nil
}

// Status implements Sink: a webhook cannot know.
func (w *Webhook) Status(context.Context, string) (*Enrollment, error) { return nil, ErrStatusUnknown }

// Sequence implements Sink with the configured assumption.
func (w *Webhook) Sequence(_ context.Context, id, _ string) (SequenceInfo, error) {
	steps := w.Steps
	if steps == nil {
		steps = []Step{{Order: 1, Action: "EMAIL"}}
	}
	return SequenceInfo{ID: id, Steps: steps}, nil
}

// EnrollWorkflow implements Sink.
func (w *Webhook) EnrollWorkflow(ctx context.Context, workflowID, email string) error {
	return w.post(ctx, WebhookPayload{Action: "workflow.enroll", WorkflowID: workflowID, Email: email}, "")
}

// UnenrollWorkflow implements Sink.
func (w *Webhook) UnenrollWorkflow(ctx context.Context, workflowID, email string) error {
	return w.post(ctx, WebhookPayload{Action: "workflow.unenroll", WorkflowID: workflowID, Email: email}, "")
}

// Workflows implements Sink: a webhook cannot know.
func (w *Webhook) Workflows(context.Context, string) ([]string, error) { return nil, ErrStatusUnknown }
