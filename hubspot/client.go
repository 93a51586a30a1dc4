package hubspot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"
)

// ClientConfig configures a Client. Zero values take the defaults shown.
type ClientConfig struct {
	BaseURL string // https://api.hubapi.com
	// APIVersion is the Sequences API version: APIVersion202603 (the
	// default, HubSpot's current dated version) or APIVersionV4 (legacy).
	APIVersion string
	Token      string // required; never logged nor audited
	// RequestsPerInterval and Interval are the client-side limit shared by
	// every call (190 per 10 s). The limiter spaces requests so that no
	// rolling Interval ever holds more than RequestsPerInterval of them.
	RequestsPerInterval int
	Interval            time.Duration
	// MaxAttempts bounds the attempts of one call (5).
	MaxAttempts    int
	InitialBackoff time.Duration // 250ms, doubled with ±50% jitter
	MaxBackoff     time.Duration // 10s
	// MaxRetryAfter is the longest Retry-After the client waits for (60s);
	// a longer one (a DAILY 429) is returned as an error.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one HTTP exchange (15s).
	AttemptTimeout time.Duration
	HTTPClient     *http.Client
	// Audit receives every request and response, on the caller's
	// goroutine before the call returns: a hook that stores the row
	// durably has it stored before the caller acts on the answer.
	Audit func(Call)
	// AuditStart, when set, receives each request just before it is sent
	// (no answer yet: Status 0), on the caller's goroutine: a hook that
	// stores it durably has it on disk before HubSpot can act on it, so a
	// process killed before the answer still leaves a trace of the call.
	// Audit later reports the same exchange with the same ID.
	AuditStart func(Call)
}

// Call is one HTTP exchange as reported to the audit hook. The
// Authorization header is never part of it and the token is scrubbed from
// bodies and errors.
type Call struct {
	// ID identifies one attempt: the same in AuditStart's and Audit's
	// reports of it.
	ID string `json:"id"`
	Op string `json:"op"`
	// Tag is the caller's label from WithAuditTag (e.g. a crossing id and
	// the caller's own call number), as the caller typed it.
	Tag any `json:"tag,omitempty"`
	// ContactID and Email name the contact the call is about, when known.
	ContactID     string        `json:"contact_id,omitempty"`
	Email         string        `json:"email,omitempty"`
	Attempt       int           `json:"attempt"`
	Method        string        `json:"method"`
	Path          string        `json:"path"`   // with the query string
	Status        int           `json:"status"` // 0 when no answer came
	Latency       time.Duration `json:"latency"`
	CorrelationID string        `json:"correlation_id,omitempty"`
	RequestBody   string        `json:"request_body,omitempty"`
	ResponseBody  string        `json:"response_body,omitempty"`
	// RateLimitRemaining is X-HubSpot-RateLimit-Remaining, -1 if absent.
	RateLimitRemaining int           `json:"rate_limit_remaining"`
	RetryAfter         time.Duration `json:"retry_after,omitempty"`
	Err                string        `json:"error,omitempty"`
	Start              time.Time     `json:"start"`
}

type (
	tagKey     struct{}
	subjectKey struct{}
	subject    struct{ contactID, email string }
)

// WithAuditTag labels every call made with ctx, so the audit trail can be
// joined to what caused it (a crossing id, a decision id). The hook gets
// the value back as it was given.
func WithAuditTag(ctx context.Context, tag any) context.Context {
	return context.WithValue(ctx, tagKey{}, tag)
}

type sendHookKey struct{}

// WithSendHook has every call made with ctx run hook once, just before
// its first request leaves (after the limiter and any 429 pause), in
// place of ClientConfig.AuditStart. hook gets that attempt's Call (no
// answer yet; Audit later reports the exchange under the same ID) and
// whether AuditStart is set, i.e. whether the attempt's start is to be
// recorded: a caller keeping a write-ahead record of its own stores it and
// the call's start in one durable write. When hook fails nothing is sent,
// nothing is audited, and the call returns hook's error as it is. Later
// attempts of the call report to AuditStart as usual.
func WithSendHook(ctx context.Context, hook func(c Call, startAudited bool) error) context.Context {
	return context.WithValue(ctx, sendHookKey{}, hook)
}

func withSubject(ctx context.Context, contactID, email string) context.Context {
	return context.WithValue(ctx, subjectKey{}, subject{contactID, email})
}

// Client calls HubSpot's Sequences v4 and Workflows v2 enrollment endpoints.
// It is safe for concurrent use; all calls share one limiter.
type Client struct {
	cfg  ClientConfig
	base *url.URL
	hc   *http.Client
	lim  *rate.Limiter

	mu         sync.Mutex
	pauseUntil time.Time // set by a 429 for every caller

	urgent atomic.Int32 // ordinary calls waiting for the limiter (priority.go)
}

const maxAuditBody = 64 << 10

// NewClient checks cfg and applies its defaults.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.hubapi.com"
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("hubspot client: base_url %q: want http(s)://host", cfg.BaseURL)
	}
	if cfg.Token == "" {
		return nil, errors.New("hubspot client: token is empty")
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = APIVersion202603
	}
	if err := checkAPIVersion(cfg.APIVersion); err != nil {
		return nil, fmt.Errorf("hubspot client: %w", err)
	}
	if cfg.RequestsPerInterval <= 0 {
		cfg.RequestsPerInterval = 190
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = time.Minute
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 15 * time.Second
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// The default transport keeps 2 idle connections per host; callers
		// running many enrollments at the rate limit would redial constantly.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		hc = &http.Client{Transport: tr}
	}
	return &Client{cfg: cfg, base: base, hc: hc, lim: newLimiter(cfg.RequestsPerInterval, cfg.Interval)}, nil
}

// newLimiter allows n requests in any rolling interval: with a burst of one
// and n-1 tokens per interval, a window of that length holds at most the
// first request plus n-1 refills. A bigger burst would let a full bucket
// plus a full interval of refills (nearly 2n) into one window, which is what
// HubSpot's rolling limit counts.
func newLimiter(n int, interval time.Duration) *rate.Limiter {
	per := max(float64(n-1), 0.9)
	return rate.NewLimiter(rate.Limit(per/interval.Seconds()), 1)
}

// ListSequences returns one page of sequences.
func (c *Client) ListSequences(ctx context.Context, p ListSequencesParams) (*SequencePage, error) {
	q := url.Values{"userId": {p.UserID}}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.After != "" {
		q.Set("after", p.After)
	}
	if p.Name != "" {
		q.Set("name", p.Name)
	}
	var page SequencePage
	if err := c.call(ctx, "list_sequences", http.MethodGet, c.seqPath(""), q, nil, &page, false); err != nil {
		return nil, err
	}
	return &page, nil
}

// ListAllSequences follows the paging cursor to the end.
func (c *Client) ListAllSequences(ctx context.Context, userID, name string) ([]SequenceLite, error) {
	var all []SequenceLite
	p := ListSequencesParams{UserID: userID, Name: name, Limit: 100}
	for {
		page, err := c.ListSequences(ctx, p)
		if err != nil {
			return all, err
		}
		all = append(all, page.Results...)
		if page.Paging == nil || page.Paging.Next == nil || page.Paging.Next.After == "" || len(page.Results) == 0 {
			return all, nil
		}
		p.After = page.Paging.Next.After
	}
}

// GetSequence returns a sequence with its steps and settings.
func (c *Client) GetSequence(ctx context.Context, sequenceID, userID string) (*Sequence, error) {
	var s Sequence
	path := c.seqPath("/" + url.PathEscape(sequenceID))
	if err := c.call(ctx, "get_sequence", http.MethodGet, path, url.Values{"userId": {userID}}, nil, &s, false); err != nil {
		return nil, err
	}
	return &s, nil
}

// GetContactEnrollment returns the contact's active sequence enrollment, or
// an error matching ErrNotEnrolled when there is none (HubSpot answers 404;
// an empty 200 is read the same way).
func (c *Client) GetContactEnrollment(ctx context.Context, contactID string) (*ContactEnrollment, error) {
	var ce ContactEnrollment
	path := c.seqPath("/enrollments/contact/" + url.PathEscape(contactID))
	ctx = withSubject(ctx, contactID, "")
	err := c.call(ctx, "get_contact_enrollment", http.MethodGet, path, nil, nil, &ce, false)
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return nil, fmt.Errorf("contact %s: %w: %w", contactID, ErrNotEnrolled, err)
	case err != nil:
		return nil, err
	case ce.ID == "" && ce.SequenceID == "":
		return nil, fmt.Errorf("contact %s: %w", contactID, ErrNotEnrolled)
	}
	return &ce, nil
}

// Enroll enrolls a contact into a sequence. It is not idempotent at
// HubSpot, so an attempt whose outcome is unknown (a timeout or a dropped
// connection after the request was sent, or a 5xx) is never repeated: it
// is returned at once wrapped in ErrAmbiguous, and finding out whether it
// took effect (GetContactEnrollment) is the caller's, which knows what it
// recorded before the call. 429 and failures before the request left are
// retried. A definite refusal is an *APIError; "already enrolled" matches
// IsAlreadyEnrolled.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (*Enrollment, error) {
	if req.UserID == "" || req.ContactID == "" || req.SequenceID == "" || req.SenderEmail == "" {
		return nil, errors.New("hubspot enroll: user id, contact id, sequence id and sender email are required")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx = withSubject(ctx, req.ContactID, "")
	var enr Enrollment
	if err := c.call(ctx, "enroll", http.MethodPost, c.seqPath("/enrollments"), url.Values{"userId": {req.UserID}}, body, &enr, true); err != nil {
		return nil, err
	}
	return &enr, nil
}

// EnrollWorkflow enrolls a contact, by email, into a v2 workflow. HubSpot
// accepts a repeated enrollment without enrolling twice, so every failure
// that may succeed later is retried.
func (c *Client) EnrollWorkflow(ctx context.Context, workflowID, email string) error {
	ctx = withSubject(ctx, "", email)
	return c.call(ctx, "enroll_workflow", http.MethodPost, workflowPath(workflowID, email), nil, nil, nil, false)
}

// UnenrollWorkflow removes a contact, by email, from a v2 workflow.
func (c *Client) UnenrollWorkflow(ctx context.Context, workflowID, email string) error {
	ctx = withSubject(ctx, "", email)
	return c.call(ctx, "unenroll_workflow", http.MethodDelete, workflowPath(workflowID, email), nil, nil, nil, false)
}

// GetWorkflowEnrollments lists the workflows a contact (by vid) is in.
func (c *Client) GetWorkflowEnrollments(ctx context.Context, vid string) ([]WorkflowEnrollment, error) {
	var out []WorkflowEnrollment
	ctx = withSubject(ctx, vid, "")
	path := "/automation/v2/workflows/enrollments/contacts/" + url.PathEscape(vid)
	if err := c.call(ctx, "get_workflow_enrollments", http.MethodGet, path, nil, nil, &out, false); err != nil {
		return nil, err
	}
	return out, nil
}

// seqPath is a Sequences API path in the configured version.
func (c *Client) seqPath(rest string) string { return SequencesPrefix(c.cfg.APIVersion) + rest }

// APIVersion is the Sequences API version the client speaks.
func (c *Client) APIVersion() string { return c.cfg.APIVersion }

func workflowPath(workflowID, email string) string {
	return "/automation/v2/workflows/" + url.PathEscape(workflowID) + "/enrollments/contacts/" + url.PathEscape(email)
}

func (c *Client) backoff(ctx context.Context) backoff.BackOff {
	eb := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.InitialBackoff),
		backoff.WithMaxInterval(c.cfg.MaxBackoff),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMultiplier(2),
		backoff.WithMaxElapsedTime(0),
	)
	return backoff.WithContext(eb, ctx)
}

// attemptResult is one HTTP exchange.
type attemptResult struct {
	status     int
	header     http.Header
	body       []byte
	err        error
	sent       bool
	retryAfter time.Duration
	// hookErr is the send hook's failure: nothing was sent.
	hookErr error
}

// call runs one API call with the limiter and bounded retries. With
// ambiguousIsFinal (enrollments) a failure after the request was sent is
// returned wrapped in ErrAmbiguous instead of retried.
func (c *Client) call(ctx context.Context, op, method, path string, q url.Values, body []byte, out any, ambiguousIsFinal bool) error {
	pathq := path
	if len(q) > 0 {
		pathq += "?" + q.Encode()
	}
	b := c.backoff(ctx)
	hook, _ := ctx.Value(sendHookKey{}).(func(Call, bool) error)
	var last error
	for attempt := 1; ; attempt++ {
		if err := c.wait(ctx); err != nil {
			return joinLast(last, err)
		}
		res := c.attempt(ctx, op, attempt, method, pathq, body, hook)
		if res.hookErr != nil {
			return res.hookErr
		}
		hook = nil
		retry, err := c.classify(op, method, path, res, ambiguousIsFinal)
		if err == nil {
			if out == nil || len(bytes.TrimSpace(res.body)) == 0 {
				return nil
			}
			if derr := json.Unmarshal(res.body, out); derr != nil {
				return fmt.Errorf("hubspot %s: %s %s: decoding the answer: %w", op, method, path, derr)
			}
			return nil
		}
		last = err
		if !retry {
			return err
		}
		if ctx.Err() != nil {
			return joinLast(last, ctx.Err())
		}
		wait := b.NextBackOff()
		if res.status == http.StatusTooManyRequests && res.retryAfter <= c.cfg.MaxRetryAfter {
			// Every caller holds back, also when this one gives up here
			// and leaves the retry to its own caller.
			c.pause(res.retryAfter)
			wait = max(wait, res.retryAfter)
		}
		if attempt >= c.cfg.MaxAttempts || wait == backoff.Stop || res.retryAfter > c.cfg.MaxRetryAfter {
			return err
		}
		if serr := sleepCtx(ctx, wait); serr != nil {
			return joinLast(last, serr)
		}
	}
}

func joinLast(last, err error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("%w (after: %v)", err, last)
}

// classify turns an attempt into an error (nil on 2xx) and says whether
// repeating the same request is allowed.
func (c *Client) classify(op, method, path string, res attemptResult, ambiguousIsFinal bool) (bool, error) {
	if res.err != nil {
		te := &TransportError{Op: op, Method: method, Path: path, Sent: res.sent, Err: scrubErr(res.err, c.cfg.Token)}
		if res.sent && ambiguousIsFinal {
			return false, fmt.Errorf("%w: %w", ErrAmbiguous, te)
		}
		return true, te
	}
	if res.status >= 200 && res.status < 300 {
		return false, nil
	}
	ae := &APIError{Op: op, Method: method, Path: path, Status: res.status, RetryAfter: res.retryAfter}
	var eb ErrorBody
	if json.Unmarshal(res.body, &eb) == nil {
		ae.Category, ae.SubCategory, ae.Message = eb.Category, eb.SubCategory, scrub(eb.Message, c.cfg.Token)
		ae.CorrelationID, ae.PolicyName, ae.Details = eb.CorrelationID, eb.PolicyName, eb.Errors
	}
	if ae.CorrelationID == "" {
		ae.CorrelationID = res.header.Get("X-HubSpot-Correlation-Id")
	}
	if ae.Message == "" {
		ae.Message = http.StatusText(res.status)
	}
	switch {
	case res.status == http.StatusTooManyRequests:
		return true, ae // refused before processing: safe even for an enrollment
	case res.status >= 500 && ambiguousIsFinal:
		return false, fmt.Errorf("%w: %w", ErrAmbiguous, ae)
	case res.status >= 500:
		return true, ae
	}
	return false, ae
}

// wait blocks until a 429 pause is over and the limiter grants a request.
func (c *Client) wait(ctx context.Context) error {
	c.mu.Lock()
	until := c.pauseUntil
	c.mu.Unlock()
	if d := time.Until(until); d > 0 {
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
	return c.admitted(ctx)
}

// pause holds every caller back after a 429, not only the one that got it.
func (c *Client) pause(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := time.Now().Add(d); t.After(c.pauseUntil) {
		c.pauseUntil = t
	}
}

// attempt makes one exchange; hook, when not nil, runs in place of
// AuditStart just before the request leaves (WithSendHook).
func (c *Client) attempt(ctx context.Context, op string, n int, method, pathq string, body []byte, hook func(Call, bool) error) attemptResult {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	var res attemptResult
	// A request may have reached HubSpot as soon as it had a connection;
	// the write callback can run after Do returns, so it cannot be trusted
	// to say that nothing was sent.
	var gotConn atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) }}
	call := Call{ID: newCallID(), Op: op, Attempt: n, Method: method, Path: pathq, RequestBody: c.auditBody(body),
		RateLimitRemaining: -1, Start: time.Now()}
	if sub, ok := ctx.Value(subjectKey{}).(subject); ok {
		call.ContactID, call.Email = sub.contactID, sub.email
	}
	call.Tag = ctx.Value(tagKey{})
	audit := c.cfg.Audit != nil
	defer func() {
		call.Latency = time.Since(call.Start)
		if audit {
			c.cfg.Audit(call)
		}
	}()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), method, c.base.String()+pathq, rd)
	if err != nil {
		res.err = err
		call.Err = scrub(err.Error(), c.cfg.Token)
		return res
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case hook != nil:
		if err := hook(call, c.cfg.AuditStart != nil); err != nil {
			res.hookErr, audit = err, false
			return res
		}
	case c.cfg.AuditStart != nil:
		c.cfg.AuditStart(call)
	}
	resp, err := c.hc.Do(req)
	if err == nil {
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		res.status, res.header = resp.StatusCode, resp.Header
		call.Status = resp.StatusCode
		call.CorrelationID = resp.Header.Get("X-HubSpot-Correlation-Id")
		if v, perr := strconv.Atoi(resp.Header.Get("X-HubSpot-RateLimit-Remaining")); perr == nil {
			call.RateLimitRemaining = v
		}
		call.ResponseBody = c.auditBody(res.body)
		if resp.StatusCode == http.StatusTooManyRequests {
			res.retryAfter = retryAfter(resp.Header, time.Now())
			call.RetryAfter = res.retryAfter
		}
		if err != nil { // the body broke off: the answer is incomplete
			res.status = 0
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("attempt timed out after %s: %w", c.cfg.AttemptTimeout, err)
		}
		res.err = err
		call.Err = scrub(err.Error(), c.cfg.Token)
	}
	res.sent = gotConn.Load() && !isDialError(res.err)
	return res
}

// retryAfter reads Retry-After (seconds or an HTTP date), else falls back
// to the rate-limit interval HubSpot announces.
// longestRetryAfter bounds a Retry-After value; callers cap their waits
// far below it and treat a longer one as "give up for now".
const longestRetryAfter = 24 * time.Hour

func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			// "Inf" or "1e300" would overflow into a negative duration
			// (no wait at all); a day is longer than any caller waits.
			return time.Duration(min(s, longestRetryAfter.Seconds()) * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now))
		}
	}
	if ms, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 0
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// newCallID is a random attempt id, 32 hex digits.
func newCallID() string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return hex.EncodeToString(id[:])
}

func (c *Client) auditBody(b []byte) string {
	if len(b) > maxAuditBody {
		b = b[:maxAuditBody]
	}
	return scrub(string(b), c.cfg.Token)
}

func scrub(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[REDACTED]")
}

// scrubErr keeps err for errors.Is/As unless its text leaks the token.
func scrubErr(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(scrub(err.Error(), token))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
