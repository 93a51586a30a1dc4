package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
)

// Options are the sandbox's non-file settings.
type Options struct {
	// Now is the sandbox clock; tests inject their own. Default time.Now.
	Now func() time.Time
}

// Sandbox imitates HubSpot's Sequences v4 and Workflows v2 enrollment
// endpoints. It is an http.Handler; admin endpoints live under /_sandbox/.
type Sandbox struct {
	cfg *Config
	// hookSecret signs webhooks to the configured target (webhooks:).
	hookSecret []byte
	now        func() time.Time
	api        *http.ServeMux
	adm        *http.ServeMux
	seqs       map[string]*sandboxSequence
	// seqOrder is the list order: ids sorted numerically where possible.
	seqOrder  []string
	users     map[string]*SenderConfig
	workflows map[int64]*WorkflowConfig
	contacts  map[string]string // id -> email
	byEmail   map[string]string // lower(email) -> id

	mu        sync.Mutex
	clockSkew time.Duration
	faults    Faults
	rng       *mrand.Rand
	hits      []time.Time // accepted API requests inside the rolling window
	day       time.Time
	dayCount  int
	nextID    int64
	enrolls   []*Enrollment
	active    map[string]*Enrollment         // contact id -> active enrollment
	bySender  map[string][]*Enrollment       // lower(sender email) -> enrollments
	wf        map[string]map[int64]time.Time // contact id -> workflow id -> enrolled at
	wfLog     []WorkflowEvent
	stats     Stats

	crm *sandboxCRM      // crm.go
	act *sandboxActivity // events.go
}

type sandboxSequence struct {
	seq     hubspot.Sequence
	offsets []time.Duration // email sends after enrollment
	length  time.Duration   // enrollment finishes after its last step
}

// Enrollment is a sequence enrollment as the sandbox stored it.
type Enrollment struct {
	ID           string     `json:"id"`
	ContactID    string     `json:"contactId"`
	ToEmail      string     `json:"toEmail"`
	SequenceID   string     `json:"sequenceId"`
	SequenceName string     `json:"sequenceName"`
	UserID       string     `json:"userId"`
	SenderEmail  string     `json:"senderEmail"`
	EnrolledAt   time.Time  `json:"enrolledAt"`
	EndedAt      *time.Time `json:"endedAt,omitempty"`
	// EndReason is FINISHED, REPLIED, MEETING_BOOKED, UNSUBSCRIBED or BOUNCED.
	EndReason string `json:"endReason,omitempty"`
	// Answered is false when the fault injector dropped the connection or
	// answered 5xx after storing: the client never saw the success.
	Answered bool `json:"answered"`
	sends    []time.Time
}

// WorkflowEvent records one workflow enrollment change.
type WorkflowEvent struct {
	WorkflowID int64     `json:"workflowId"`
	ContactID  string    `json:"contactId"`
	Email      string    `json:"email"`
	Action     string    `json:"action"` // ENROLLED, UNENROLLED
	At         time.Time `json:"at"`
}

// Stats counts what the sandbox answered.
type Stats struct {
	Requests       int `json:"requests"`
	Unauthorized   int `json:"unauthorized"`
	RateLimited    int `json:"rateLimited"`
	InjectedErrors int `json:"injectedErrors"`
	Dropped        int `json:"dropped"`
	Enrollments    int `json:"enrollments"`
}

// New builds a sandbox from a validated configuration.
func New(cfg *Config, opts Options) (*Sandbox, error) {
	if cfg == nil {
		return nil, errors.New("sandbox: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{
		cfg:       cfg,
		now:       opts.Now,
		seqs:      map[string]*sandboxSequence{},
		users:     map[string]*SenderConfig{},
		workflows: map[int64]*WorkflowConfig{},
		contacts:  map[string]string{},
		byEmail:   map[string]string{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	secret, err := webhookSecret(cfg.Webhooks)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.hookSecret = secret
	created := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := range cfg.Senders {
		s.users[cfg.Senders[i].UserID] = &cfg.Senders[i]
	}
	for _, c := range cfg.Contacts {
		s.contacts[c.ID] = c.Email
		s.byEmail[strings.ToLower(c.Email)] = c.ID
	}
	for i := range cfg.Workflows {
		s.workflows[cfg.Workflows[i].ID] = &cfg.Workflows[i]
	}
	for _, q := range cfg.Sequences {
		ss := buildSequence(q, created)
		s.seqs[q.ID] = ss
		s.seqOrder = append(s.seqOrder, q.ID)
	}
	slices.SortFunc(s.seqOrder, compareIDs)
	s.resetLocked()
	s.api = http.NewServeMux()
	// Both API versions: the same calls under the dated prefix and the
	// legacy v4 one (see APIVersion).
	for _, v := range []string{hubspot.APIVersion202603, hubspot.APIVersionV4} {
		prefix := hubspot.SequencesPrefix(v)
		s.api.HandleFunc("GET "+prefix, s.listSequences)
		s.api.HandleFunc("GET "+prefix+"/{sequenceId}", s.getSequence)
		s.api.HandleFunc("POST "+prefix+"/enrollments", s.enroll)
		s.api.HandleFunc("GET "+prefix+"/enrollments/contact/{contactId}", s.contactEnrollment)
	}
	s.api.HandleFunc("POST /automation/v2/workflows/{workflowId}/enrollments/contacts/{email}", s.workflowEnroll)
	s.api.HandleFunc("DELETE /automation/v2/workflows/{workflowId}/enrollments/contacts/{email}", s.workflowUnenroll)
	s.api.HandleFunc("GET /automation/v2/workflows/enrollments/contacts/{vid}", s.workflowEnrollments)
	s.api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Route %s %s not found", r.Method, r.URL.Path))
	})
	s.adm = http.NewServeMux()
	s.registerAdmin(s.adm)
	s.registerCRM(s.api, s.adm)
	return s, nil
}

func buildSequence(q SequenceConfig, created time.Time) *sandboxSequence {
	ss := &sandboxSequence{seq: hubspot.Sequence{
		ID: q.ID, Name: q.Name, UserID: q.UserID, FolderID: q.FolderID,
		CreatedAt: created, UpdatedAt: created, Dependencies: []map[string]any{},
		Settings: &hubspot.SequenceSettings{
			ID:                    q.ID + "-settings",
			EligibleFollowUpDays:  q.Settings.EligibleFollowUpDays,
			SendWindowStartMinute: *q.Settings.SendWindowStartMinute,
			SendWindowEndMinute:   *q.Settings.SendWindowEndMinute,
			SellingStrategy:       q.Settings.SellingStrategy,
			TaskReminderMinute:    *q.Settings.SendWindowStartMinute,
			CreatedAt:             created, UpdatedAt: created,
		},
	}}
	for i, st := range q.Steps {
		id := fmt.Sprintf("%s%02d", q.ID, i)
		step := hubspot.Step{
			ID: id, StepOrder: i, DelayMillis: st.stepDelay().Milliseconds(),
			ActionType: st.Action, CreatedAt: created, UpdatedAt: created,
		}
		switch st.Action {
		case hubspot.ActionEmail:
			step.EmailPattern = &hubspot.EmailPattern{ID: id + "-e", TemplateID: fmt.Sprintf("%d", 7000+i), CreatedAt: created, UpdatedAt: created}
		case hubspot.ActionTask:
			step.TaskPattern = &hubspot.TaskPattern{ID: id + "-t", TaskType: st.TaskType, TaskPriority: "MEDIUM", Subject: st.Subject, CreatedAt: created, UpdatedAt: created}
		}
		ss.seq.Steps = append(ss.seq.Steps, step)
		ss.length += st.stepDelay()
	}
	ss.offsets = ss.seq.EmailSendOffsets()
	return ss
}

// compareIDs orders numeric ids numerically, others lexically after them.
func compareIDs(a, b string) int {
	na, ea := strconv.ParseInt(a, 10, 64)
	nb, eb := strconv.ParseInt(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return int(max(-1, min(1, na-nb)))
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// resetLocked forgets enrollments, counters and run-time fault changes.
func (s *Sandbox) resetLocked() {
	s.faults = s.cfg.Faults
	s.rng = newFaultRand(s.faults.Seed)
	s.hits = nil
	s.day, s.dayCount = time.Time{}, 0
	s.nextID = 3_000_000_000
	s.enrolls = nil
	s.active = map[string]*Enrollment{}
	s.bySender = map[string][]*Enrollment{}
	s.wf = map[string]map[int64]time.Time{}
	s.wfLog = nil
	s.stats = Stats{}
	s.clockSkew = 0
}

func newFaultRand(seed uint64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// clock is the sandbox's time at HubSpot's precision: milliseconds.
func (s *Sandbox) clock() time.Time {
	return s.now().Add(s.clockSkew).UTC().Truncate(time.Millisecond)
}

// ServeHTTP answers HubSpot's endpoints after authentication, the rolling
// rate limit and the fault injector, and the admin endpoints directly.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.adm.ServeHTTP(w, r)
		return
	}
	w.Header().Set("X-HubSpot-Correlation-Id", newCorrelationID())
	if !s.authorized(r) {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		writeError(w, r, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
		return
	}
	latency, fail := s.admit(w, r)
	if latency < 0 {
		return // answered 429
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail != 0 {
		writeError(w, r, fail, "INTERNAL_ERROR", "", "internal error (injected by the sandbox)")
		return
	}
	s.api.ServeHTTP(w, r)
}

// authorized accepts "Bearer <token>" with the scheme in any case, as
// HTTP auth schemes are (RFC 7235) and HubSpot does.
func (s *Sandbox) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.Token)) == 1
}

// admit applies the rate limit and draws the pre-processing faults. It
// returns a negative latency when it has already answered 429, and a
// non-zero status when the request must fail with an injected 5xx.
func (s *Sandbox) admit(w http.ResponseWriter, r *http.Request) (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Full precision here: the limit counts requests, not timestamps.
	now := s.now().Add(s.clockSkew).UTC()
	rl := s.cfg.RateLimit
	cut := 0
	for cut < len(s.hits) && now.Sub(s.hits[cut]) >= max(rl.Interval, time.Second) {
		cut++
	}
	s.hits = s.hits[cut:]
	inInterval := s.countSinceLocked(now, rl.Interval)
	if day := now.Truncate(24 * time.Hour); !day.Equal(s.day) {
		s.day, s.dayCount = day, 0
	}
	h := w.Header()
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(rl.Max))
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(rl.Interval.Milliseconds(), 10))
	h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(rl.Daily))
	// HubSpot also reports a per-second count; the sandbox reports it and
	// enforces only the interval and daily limits.
	secondly := rl.secondly()
	h.Set("X-HubSpot-RateLimit-Secondly", strconv.Itoa(secondly))
	h.Set("X-HubSpot-RateLimit-Secondly-Remaining", strconv.Itoa(max(0, secondly-s.countSinceLocked(now, time.Second))))
	switch {
	case s.dayCount >= rl.Daily:
		s.stats.RateLimited++
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(0, rl.Max-inInterval)))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", "0")
		next := s.day.Add(24 * time.Hour)
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(next.Sub(now).Seconds()))))
		writeRateLimit(w, r, "DAILY", "You have reached your daily limit.")
		return -1, 0
	case inInterval >= rl.Max:
		s.stats.RateLimited++
		h.Set("X-HubSpot-RateLimit-Remaining", "0")
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(rl.Daily-s.dayCount))
		wait := s.hits[len(s.hits)-inInterval].Add(rl.Interval).Sub(now)
		h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		writeRateLimit(w, r, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
		return -1, 0
	}
	s.hits = append(s.hits, now)
	s.dayCount++
	s.stats.Requests++
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(rl.Max-inInterval-1))
	h.Set("X-HubSpot-RateLimit-Secondly-Remaining", strconv.Itoa(max(0, secondly-s.countSinceLocked(now, time.Second))))
	h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(rl.Daily-s.dayCount))
	fail := 0
	switch {
	case s.faults.FailNext > 0:
		s.faults.FailNext--
		fail = http.StatusServiceUnavailable
	case s.faults.ErrorRate > 0 && s.rng.Float64() < s.faults.ErrorRate:
		fail = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[s.rng.IntN(3)]
	}
	if fail != 0 {
		s.stats.InjectedErrors++
	}
	return s.faults.Latency, fail
}

// countSinceLocked counts the accepted requests of the last d.
func (s *Sandbox) countSinceLocked(now time.Time, d time.Duration) int {
	i, _ := slices.BinarySearchFunc(s.hits, now.Add(-d), func(t, from time.Time) int {
		if t.After(from) {
			return 1
		}
		return -1
	})
	return len(s.hits) - i
}

func writeRateLimit(w http.ResponseWriter, r *http.Request, policy, msg string) {
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"status":        "error",
		"message":       msg,
		"errorType":     "RATE_LIMIT",
		"category":      "RATE_LIMITS",
		"correlationId": w.Header().Get("X-HubSpot-Correlation-Id"),
		"policyName":    policy,
	})
}

// writeError answers HubSpot's error document.
func writeError(w http.ResponseWriter, r *http.Request, status int, category, sub, msg string, details ...hubspot.ErrorDetail) {
	corr := w.Header().Get("X-HubSpot-Correlation-Id")
	if corr == "" {
		corr = newCorrelationID()
		w.Header().Set("X-HubSpot-Correlation-Id", corr)
	}
	writeJSON(w, status, hubspot.ErrorBody{
		Status: "error", Message: msg, CorrelationID: corr, Category: category,
		SubCategory: sub, Errors: details,
		Links: map[string]string{"knowledge-base": "https://www.hubspot.com/products/service/knowledge-base"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Sandbox) listSequences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("userId") == "" {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "userId is required",
			hubspot.ErrorDetail{Message: "userId is required", In: "userId", Code: "REQUIRED"})
		return
	}
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "limit must be between 1 and 100")
			return
		}
		limit = n
	}
	start := 0
	if v := q.Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "invalid paging cursor")
			return
		}
		start = n
	}
	name := strings.ToLower(q.Get("name"))
	var match []hubspot.SequenceLite
	for _, id := range s.seqOrder {
		sq := s.seqs[id].seq
		if name != "" && !strings.Contains(strings.ToLower(sq.Name), name) {
			continue
		}
		match = append(match, hubspot.SequenceLite{ID: sq.ID, Name: sq.Name, UserID: sq.UserID, FolderID: sq.FolderID, CreatedAt: sq.CreatedAt, UpdatedAt: sq.UpdatedAt})
	}
	page := hubspot.SequencePage{Total: len(match), Results: []hubspot.SequenceLite{}}
	if start < len(match) {
		end := min(len(match), start+limit)
		page.Results = match[start:end]
		if end < len(match) {
			nq := r.URL.Query()
			nq.Set("after", strconv.Itoa(end))
			page.Paging = &hubspot.Paging{Next: &hubspot.NextPage{After: strconv.Itoa(end), Link: requestURL(r, nq)}}
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// requestURL is the absolute URL of r's path with query q, as HubSpot's
// paging links are (its clients build the next request from them).
func requestURL(r *http.Request, q url.Values) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

func (s *Sandbox) getSequence(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("userId") == "" {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "userId is required",
			hubspot.ErrorDetail{Message: "userId is required", In: "userId", Code: "REQUIRED"})
		return
	}
	id := r.PathValue("sequenceId")
	sq, ok := s.seqs[id]
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Sequence with id %s not found", id))
		return
	}
	writeJSON(w, http.StatusOK, sq.seq)
}

// contactEmail resolves a contact id to its email.
func (s *Sandbox) contactEmail(id string) (string, bool) {
	if e, ok := s.contacts[id]; ok {
		return e, true
	}
	if !s.cfg.ContactsAuto || id == "" || strings.ContainsAny(id, "/@ ") {
		return "", false
	}
	return strings.ReplaceAll(s.cfg.ContactEmailTemplate, "{id}", id), true
}

// contactByEmail resolves an email to a contact id.
func (s *Sandbox) contactByEmail(email string) (string, bool) {
	if id, ok := s.byEmail[strings.ToLower(email)]; ok {
		return id, true
	}
	if !s.cfg.ContactsAuto {
		return "", false
	}
	pre, post, _ := strings.Cut(s.cfg.ContactEmailTemplate, "{id}")
	lower := strings.ToLower(email)
	if len(lower) <= len(pre)+len(post) || !strings.HasPrefix(lower, strings.ToLower(pre)) || !strings.HasSuffix(lower, strings.ToLower(post)) {
		return "", false
	}
	id := email[len(pre) : len(email)-len(post)]
	if _, ok := s.contactEmail(id); !ok {
		return "", false
	}
	return id, true
}

// expireLocked ends enrollments whose last step has run.
func (s *Sandbox) expireLocked(now time.Time) {
	for id, e := range s.active {
		if !now.Before(e.EnrolledAt.Add(s.seqs[e.SequenceID].length)) {
			end := e.EnrolledAt.Add(s.seqs[e.SequenceID].length)
			e.EndedAt, e.EndReason = &end, "FINISHED"
			delete(s.active, id)
		}
	}
}

func (s *Sandbox) enroll(w http.ResponseWriter, r *http.Request) {
	userID := r.URL.Query().Get("userId")
	var req hubspot.EnrollRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	if err := dec.Decode(&req); err != nil {
		msg, detail := decodeProblem(err)
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", msg, detail...)
		return
	}
	var missing []hubspot.ErrorDetail
	for _, f := range []struct{ name, v string }{{"userId", userID}, {"contactId", req.ContactID}, {"sequenceId", req.SequenceID}, {"senderEmail", req.SenderEmail}} {
		if f.v == "" {
			missing = append(missing, hubspot.ErrorDetail{Message: f.name + " is required", In: f.name, Code: "REQUIRED"})
		}
	}
	if len(missing) > 0 {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", fmt.Sprintf("Invalid input: %d required field(s) missing", len(missing)), missing...)
		return
	}
	sq, ok := s.seqs[req.SequenceID]
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Sequence with id %s not found", req.SequenceID))
		return
	}
	user, ok := s.users[userID]
	if !ok {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", fmt.Sprintf("User %s not found", userID))
		return
	}
	if !*user.InboxConnected || !strings.EqualFold(user.Email, req.SenderEmail) {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", fmt.Sprintf("User %s has no connected inboxes for specified user email", userID))
		return
	}
	toEmail, ok := s.contactEmail(req.ContactID)
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Contact with id %s not found", req.ContactID))
		return
	}

	s.mu.Lock()
	now := s.clock()
	s.expireLocked(now)
	if _, busy := s.active[req.ContactID]; busy {
		s.mu.Unlock()
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "Contact already enrolled in a sequence")
		return
	}
	inbox := strings.ToLower(user.Email)
	sends := hubspot.SendTimes(sq.offsets, now)
	if peak := hubspot.MaxSendsWithNew(s.scheduledLocked(inbox, now), sends, hubspot.SendWindow); peak > user.DailySendCap {
		s.mu.Unlock()
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "SEND_LIMIT_EXCEEDED",
			fmt.Sprintf("Enrolling would schedule %d emails from %s in a rolling 24 hours, over the inbox send limit of %d", peak, user.Email, user.DailySendCap))
		return
	}
	s.nextID++
	e := &Enrollment{
		ID: strconv.FormatInt(s.nextID, 10), ContactID: req.ContactID, ToEmail: toEmail,
		SequenceID: sq.seq.ID, SequenceName: sq.seq.Name, UserID: userID, SenderEmail: user.Email,
		EnrolledAt: now, Answered: true, sends: sends,
	}
	s.enrolls = append(s.enrolls, e)
	s.active[req.ContactID] = e
	s.bySender[inbox] = append(s.bySender[inbox], e)
	s.stats.Enrollments++
	drop := false
	errAfter := false
	switch {
	case s.faults.DropAfterEnrollNext > 0:
		s.faults.DropAfterEnrollNext--
		drop = true
	case s.faults.ErrorAfterEnrollNext > 0:
		s.faults.ErrorAfterEnrollNext--
		errAfter = true
	case s.faults.DropAfterEnrollRate > 0 && s.rng.Float64() < s.faults.DropAfterEnrollRate:
		drop = true
	}
	if drop || errAfter {
		e.Answered = false
		if drop {
			s.stats.Dropped++
		} else {
			s.stats.InjectedErrors++
		}
	}
	delay := s.faults.AnswerDelay
	s.mu.Unlock()

	if delay > 0 && !drop {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client is gone: stored, never answered
			t.Stop()
			s.mu.Lock()
			e.Answered = false
			s.mu.Unlock()
			return
		}
	}
	switch {
	case drop:
		dropConnection(w)
	case errAfter:
		writeError(w, r, http.StatusBadGateway, "INTERNAL_ERROR", "", "Bad gateway (injected by the sandbox after storing the enrollment)")
	default:
		writeJSON(w, http.StatusOK, hubspot.Enrollment{ID: e.ID, ToEmail: e.ToEmail, EnrolledAt: now, UpdatedAt: now})
	}
}

// decodeProblem words a request body that does not decode as HubSpot's
// validation error would, naming the field and what to send instead; it
// never shows the decoder's Go type names.
func decodeProblem(err error) (string, []hubspot.ErrorDetail) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		got := te.Value
		if got == "number" {
			got = "a number"
		} else {
			got = "a " + got
		}
		msg := fmt.Sprintf("Invalid input JSON: %s must be a string, got %s; send the id in quotes, e.g. \"%s\": \"123\"", te.Field, got, te.Field)
		return msg, []hubspot.ErrorDetail{{Message: msg, In: te.Field, Code: "INVALID_TYPE"}}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("Invalid input JSON at byte %d: the body is not valid JSON", se.Offset), nil
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Sprintf("Invalid input JSON: the body is larger than %d bytes", mb.Limit), nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "Invalid input JSON: the body is empty or cut short; send {\"contactId\", \"sequenceId\", \"senderEmail\"}", nil
	}
	return "Invalid input JSON: the body must be one JSON object with contactId, sequenceId and senderEmail as strings", nil
}

// scheduledLocked lists the sends an inbox has made or will make that can
// share a 24 h window with a send at or after now.
func (s *Sandbox) scheduledLocked(inbox string, now time.Time) []time.Time {
	horizon := now.Add(-hubspot.SendWindow)
	list := s.bySender[inbox]
	keep := list[:0]
	var out []time.Time
	for _, e := range list {
		if len(e.sends) == 0 || !e.sends[len(e.sends)-1].After(horizon) {
			continue // nothing left that can matter: forget it for the cap
		}
		keep = append(keep, e)
		for _, t := range e.sends {
			if t.After(horizon) && (e.EndedAt == nil || t.Before(*e.EndedAt)) {
				out = append(out, t)
			}
		}
	}
	clear(list[len(keep):])
	s.bySender[inbox] = keep
	return out
}

// dropConnection closes the client's connection without an answer, as a
// network failure after HubSpot committed the enrollment would.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream instead
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func (s *Sandbox) contactEnrollment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("contactId")
	s.mu.Lock()
	s.expireLocked(s.clock())
	e, ok := s.active[id]
	var ce hubspot.ContactEnrollment
	if ok {
		ce = hubspot.ContactEnrollment{ID: e.ID, SequenceID: e.SequenceID, SequenceName: e.SequenceName, EnrolledBy: e.UserID,
			EnrolledByEmail: e.SenderEmail, ToEmail: e.ToEmail, EnrolledAt: e.EnrolledAt, UpdatedAt: e.EnrolledAt}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("No active sequence enrollment found for contact %s", id))
		return
	}
	writeJSON(w, http.StatusOK, ce)
}

// workflowTarget resolves the workflow and contact of a v2 call, answering
// 404 when either is unknown.
func (s *Sandbox) workflowTarget(w http.ResponseWriter, r *http.Request) (*WorkflowConfig, string, string, bool) {
	raw := r.PathValue("workflowId")
	wid, err := strconv.ParseInt(raw, 10, 64)
	wf, ok := s.workflows[wid]
	if err != nil || !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Workflow %s not found", raw))
		return nil, "", "", false
	}
	email := r.PathValue("email")
	vid, ok := s.contactByEmail(email)
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Contact with email %s not found", email))
		return nil, "", "", false
	}
	return wf, vid, email, true
}

func (s *Sandbox) workflowEnroll(w http.ResponseWriter, r *http.Request) {
	wf, vid, email, ok := s.workflowTarget(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	m := s.wf[vid]
	if m == nil {
		m = map[int64]time.Time{}
		s.wf[vid] = m
	}
	if _, in := m[wf.ID]; !in {
		now := s.clock()
		m[wf.ID] = now
		s.wfLog = append(s.wfLog, WorkflowEvent{WorkflowID: wf.ID, ContactID: vid, Email: email, Action: "ENROLLED", At: now})
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) workflowUnenroll(w http.ResponseWriter, r *http.Request) {
	wf, vid, email, ok := s.workflowTarget(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	if _, in := s.wf[vid][wf.ID]; in {
		delete(s.wf[vid], wf.ID)
		s.wfLog = append(s.wfLog, WorkflowEvent{WorkflowID: wf.ID, ContactID: vid, Email: email, Action: "UNENROLLED", At: s.clock()})
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) workflowEnrollments(w http.ResponseWriter, r *http.Request) {
	vid := r.PathValue("vid")
	if _, ok := s.contactEmail(vid); !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Contact %s not found", vid))
		return
	}
	out := []hubspot.WorkflowEnrollment{}
	s.mu.Lock()
	for wid := range s.wf[vid] {
		wf := s.workflows[wid]
		ms := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).UnixMilli()
		out = append(out, hubspot.WorkflowEnrollment{ID: wf.ID, Name: wf.Name, Type: wf.Type, Enabled: *wf.Enabled, PortalID: s.cfg.PortalID, InsertedAt: ms, UpdatedAt: ms})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b hubspot.WorkflowEnrollment) int { return int(max(-1, min(1, a.ID-b.ID))) })
	writeJSON(w, http.StatusOK, out)
}

// Serve serves a sandbox on addr until ctx ends, then shuts down
// gracefully. It is all `bridge sandbox` needs.
func Serve(ctx context.Context, addr string, cfg *Config) error {
	sb, err := New(cfg, Options{})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("sandbox: %w", err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			return fmt.Errorf("sandbox: shutdown: %w", err)
		}
		return nil
	}
}
