package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/scorebridge/scorebridge/hubspot"
)

// The sandbox's side of HubSpot's activity: the legacy email events API
// (`GET /email/public/v1/events`, from events given through the admin
// API) and webhooks it signs (X-HubSpot-Signature-v3) and sends for its
// own contact changes to a URL set through the admin API.

// sandboxActivity is the email events and the webhook target.
type sandboxActivity struct {
	mu        sync.Mutex
	email     []hubspot.EmailEvent // sorted by (created, id)
	nextEmail int64
	nextEvent int64
	hookURL   string
	hookKey   []byte
	delivered int
	failed    int
	attempts  int
	inFlight  sync.WaitGroup
}

const sandboxAppID = 4242

func (s *Sandbox) registerActivity(api, adm *http.ServeMux) {
	s.act = &sandboxActivity{nextEmail: 1, nextEvent: 1_000_001, hookURL: s.cfg.Webhooks.URL, hookKey: s.hookSecret}
	api.HandleFunc("GET /email/public/v1/events", s.emailEvents)
	adm.HandleFunc("POST /_sandbox/email-events", s.addEmailEvents)
	adm.HandleFunc("POST /_sandbox/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			URL    string `json:"url"`
			Secret string `json:"secret"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14)).Decode(&body); err != nil || body.URL == "" || body.Secret == "" {
			adminError(w, http.StatusBadRequest, "webhooks: url and secret (the app's client secret) are required")
			return
		}
		s.act.mu.Lock()
		s.act.hookURL, s.act.hookKey = body.URL, []byte(body.Secret)
		s.act.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	adm.HandleFunc("GET /_sandbox/webhooks", func(w http.ResponseWriter, r *http.Request) {
		a := s.act
		a.mu.Lock()
		defer a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"url": a.hookURL, "delivered": a.delivered, "failed": a.failed, "attempts": a.attempts})
	})
	adm.HandleFunc("POST /_sandbox/crm/contacts/{id}/properties", func(w http.ResponseWriter, r *http.Request) {
		var props map[string]string
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&props); err != nil {
			adminError(w, http.StatusBadRequest, "properties: a JSON object of name: value")
			return
		}
		if err := s.ChangeContact(r.PathValue("id"), props); err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	adm.HandleFunc("POST /_sandbox/crm/contacts/{id}/create", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !s.contactExists(id) {
			adminError(w, http.StatusNotFound, fmt.Sprintf("contact %q is not one of the sandbox's", id))
			return
		}
		s.sendWebhooks(hubspot.WebhookEvent{SubscriptionType: "contact.creation", ObjectID: objectID(id)})
		w.WriteHeader(http.StatusNoContent)
	})
	adm.HandleFunc("POST /_sandbox/crm/contacts/{id}/privacy-deletion", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.DeleteContact(id)
		s.sendWebhooks(hubspot.WebhookEvent{SubscriptionType: "contact.privacyDeletion", ObjectID: objectID(id)})
		w.WriteHeader(http.StatusNoContent)
	})
}

func objectID(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// ChangeContact sets contact properties as a user would in HubSpot, and
// sends a contact.propertyChange webhook per property.
func (s *Sandbox) ChangeContact(id string, props map[string]string) error {
	if !s.contactExists(id) {
		return fmt.Errorf("contact %q does not exist or was deleted", id)
	}
	s.crm.mu.Lock()
	values := s.crm.types[hubspot.ObjectContacts].values
	if values[id] == nil {
		values[id] = map[string]string{}
	}
	names := make([]string, 0, len(props))
	for k, v := range props {
		values[id][k] = v
		names = append(names, k)
	}
	s.crm.mu.Unlock()
	sort.Strings(names)
	var evs []hubspot.WebhookEvent
	for _, k := range names {
		evs = append(evs, hubspot.WebhookEvent{SubscriptionType: "contact.propertyChange", ObjectID: objectID(id),
			PropertyName: k, PropertyValue: props[k], ChangeSource: "CRM_UI"})
	}
	s.sendWebhooks(evs...)
	return nil
}

// WaitWebhooks waits until every webhook delivery started has ended
// (delivered, or given up after its retries).
func (s *Sandbox) WaitWebhooks() { s.act.inFlight.Wait() }

// sendWebhooks delivers evs as one signed request, retried up to three
// times with attemptNumber counting, in the background.
func (s *Sandbox) sendWebhooks(evs ...hubspot.WebhookEvent) {
	a := s.act
	a.mu.Lock()
	url, key := a.hookURL, a.hookKey
	now := s.clock().UnixMilli()
	for i := range evs {
		evs[i].EventID = a.nextEvent
		a.nextEvent++
		evs[i].SubscriptionID, evs[i].PortalID, evs[i].AppID = 77, s.cfg.PortalID, sandboxAppID
		if evs[i].OccurredAt == 0 {
			evs[i].OccurredAt = now
		}
	}
	a.mu.Unlock()
	if url == "" || len(evs) == 0 {
		return
	}
	a.inFlight.Add(1)
	go func() {
		defer a.inFlight.Done()
		// As HubSpot does, on a schedule of its own: 100 ms doubling.
		b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
			backoff.WithRandomizationFactor(0), backoff.WithMaxElapsedTime(0))
		for attempt := 0; attempt < 4; attempt++ {
			for i := range evs {
				evs[i].AttemptNumber = attempt
			}
			body, _ := json.Marshal(evs)
			ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
			ok := deliver(url, key, body, ts)
			a.mu.Lock()
			a.attempts++
			if ok {
				a.delivered++
			}
			a.mu.Unlock()
			if ok {
				return
			}
			time.Sleep(b.NextBackOff())
		}
		a.mu.Lock()
		a.failed++
		a.mu.Unlock()
	}()
}

func deliver(url string, key, body []byte, ts string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(hubspot.TimestampHeader, ts)
	req.Header.Set(hubspot.SignatureV3Header, hubspot.SignV3(key, http.MethodPost, url, body, ts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// addEmailEvents stores email events given as
// [{"type","contactId"|"recipient","created"(RFC 3339),"url","status"}].
func (s *Sandbox) addEmailEvents(w http.ResponseWriter, r *http.Request) {
	var in []struct {
		Type      string    `json:"type"`
		ContactID string    `json:"contactId"`
		Recipient string    `json:"recipient"`
		Created   time.Time `json:"created"`
		URL       string    `json:"url"`
		Status    string    `json:"status"`
		Category  string    `json:"category"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&in); err != nil {
		adminError(w, http.StatusBadRequest, "email-events: "+err.Error())
		return
	}
	out := make([]hubspot.EmailEvent, 0, len(in))
	for i, e := range in {
		rcpt := e.Recipient
		if e.ContactID != "" {
			s.mu.Lock()
			email, ok := s.contactEmail(e.ContactID)
			s.mu.Unlock()
			if !ok {
				adminError(w, http.StatusBadRequest, fmt.Sprintf("email-events[%d]: unknown contact %q", i, e.ContactID))
				return
			}
			rcpt = email
		}
		if e.Type == "" || rcpt == "" || e.Created.IsZero() {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("email-events[%d]: type, contactId or recipient, and created are required", i))
			return
		}
		out = append(out, hubspot.EmailEvent{Type: e.Type, Recipient: rcpt, Created: e.Created.UnixMilli(), URL: e.URL, Status: e.Status,
			Category: e.Category, PortalID: s.cfg.PortalID, AppID: sandboxAppID, AppName: "Batch", EmailCampaignID: 5511})
	}
	a := s.act
	a.mu.Lock()
	for i := range out {
		out[i].ID = fmt.Sprintf("ev-%08d", a.nextEmail)
		a.nextEmail++
		a.email = append(a.email, out[i])
	}
	sort.SliceStable(a.email, func(i, j int) bool {
		x, y := a.email[i], a.email[j]
		return x.Created < y.Created || x.Created == y.Created && x.ID < y.ID
	})
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// emailEvents is GET /email/public/v1/events: events created in
// [startTimestamp, endTimestamp), oldest first, `limit` a page (default
// 100, at most 1000), `offset` the opaque cursor of the previous page,
// `eventType` a filter.
func (s *Sandbox) emailEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	num := func(name string, def int64) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	start, ok1 := num("startTimestamp", 0)
	end, ok2 := num("endTimestamp", 1<<62)
	limit, ok3 := num("limit", 100)
	from, ok4 := num("offset", 0)
	if !ok1 || !ok2 || !ok3 || !ok4 || limit < 1 || limit > 1000 || from < 0 {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "startTimestamp, endTimestamp and offset must be integers; limit 1 to 1000")
		return
	}
	typ := q.Get("eventType")
	a := s.act
	a.mu.Lock()
	var match []hubspot.EmailEvent
	for _, e := range a.email {
		if e.Created >= start && e.Created < end && (typ == "" || e.Type == typ) {
			match = append(match, e)
		}
	}
	a.mu.Unlock()
	page := hubspot.EmailEventsPage{Events: []hubspot.EmailEvent{}}
	if from < int64(len(match)) {
		hi := min(from+limit, int64(len(match)))
		page.Events = match[from:hi]
		page.HasMore = hi < int64(len(match))
		page.Offset = strconv.FormatInt(hi, 10)
	} else {
		page.Offset = strconv.FormatInt(from, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

// webhookSecret is the configured target's signing secret: from
// webhooks.secret_file, else HUBSPOT_CLIENT_SECRET.
func webhookSecret(c WebhooksConfig) ([]byte, error) {
	if c.URL == "" {
		return nil, nil
	}
	if c.SecretFile != "" {
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("webhooks.secret_file: %w", err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("webhooks.secret_file %s is empty", c.SecretFile)
	}
	if s := os.Getenv("HUBSPOT_CLIENT_SECRET"); s != "" {
		return []byte(s), nil
	}
	return nil, errors.New("webhooks.url is set and no secret signs the requests: set webhooks.secret_file or HUBSPOT_CLIENT_SECRET")
}
