package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

// The sandbox signs its webhooks as HubSpot does: a receiver verifying
// X-HubSpot-Signature-v3 over the URL it is called at accepts them; a
// failed delivery is retried with attemptNumber counting.
func TestSandboxWebhooks(t *testing.T) {
	sb, srv := sandboxtest.Start(t, nil)
	secret := []byte("app-client-secret")
	var mu sync.Mutex
	var got []hubspot.WebhookEvent
	failFirst := true
	var hook *httptest.Server
	hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		uri := hook.URL + r.URL.RequestURI()
		if err := hubspot.VerifyV3(secret, r.Method, uri, body, r.Header.Get(hubspot.TimestampHeader), r.Header.Get(hubspot.SignatureV3Header), time.Now()); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if failFirst {
			failFirst = false
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var evs []hubspot.WebhookEvent
		if err := json.Unmarshal(body, &evs); err != nil {
			t.Error(err)
		}
		got = append(got, evs...)
	}))
	defer hook.Close()
	resp, _ := raw(t, srv, http.MethodPost, "/_sandbox/webhooks", "", `{"url":"`+hook.URL+`/hubspot/webhooks?portal=62515","secret":"app-client-secret"}`)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("configure webhooks: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, srv, http.MethodPost, "/_sandbox/crm/contacts/2001/properties", "", `{"lifecyclestage":"lead","firstname":"Ana"}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("change: %d", resp.StatusCode)
	}
	sb.WaitWebhooks()
	raw(t, srv, http.MethodPost, "/_sandbox/crm/contacts/2001/privacy-deletion", "", "")
	sb.WaitWebhooks()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("received %+v", got)
	}
	first := got[0]
	if first.SubscriptionType != "contact.propertyChange" || first.PropertyName != "firstname" || first.PropertyValue != "Ana" ||
		first.AttemptNumber != 1 || first.ObjectID != float64(2001) || first.EventID == 0 {
		t.Errorf("first event %+v (a retry after the 503: attemptNumber 1)", first)
	}
	if got[2].SubscriptionType != "contact.privacyDeletion" || got[2].AttemptNumber != 0 {
		t.Errorf("privacy deletion %+v", got[2])
	}
	if _, ok := sb.ContactProperties("2001"); ok {
		t.Error("a privacy-deleted contact still exists")
	}
}

// Email events page by offset from a start time, oldest first, through the
// client.
func TestSandboxEmailEvents(t *testing.T) {
	_, srv := sandboxtest.Start(t, nil)
	c, _ := sandboxtest.NewClient(t, srv.URL, nil)
	var b strings.Builder
	b.WriteString("[")
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i := range 25 {
		if i > 0 {
			b.WriteString(",")
		}
		typ := []string{"DELIVERED", "OPEN", "CLICK", "BOUNCE", "STATUSCHANGE"}[i%5]
		b.WriteString(`{"type":"` + typ + `","contactId":"3001","created":"` + t0.Add(time.Duration(24-i)*time.Minute).Format(time.RFC3339) + `","url":"https://x.example/pricing","status":"UNSUBSCRIBED"}`)
	}
	b.WriteString("]")
	if resp, _ := raw(t, srv, http.MethodPost, "/_sandbox/email-events", "", b.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("add: %d", resp.StatusCode)
	}
	var all []hubspot.EmailEvent
	offset := ""
	for pages := 0; ; pages++ {
		p, err := c.EmailEvents(context.Background(), t0.Add(5*time.Minute).UnixMilli(), offset, 7)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Events...)
		if !p.HasMore {
			break
		}
		offset = p.Offset
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 20 {
		t.Fatalf("%d events from +5m, want 20", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Created < all[i-1].Created {
			t.Fatalf("not oldest first at %d", i)
		}
	}
	if all[0].Recipient != "c3001@example.net" || all[0].ID == "" {
		t.Fatalf("first %+v", all[0])
	}
}

// The webhook target can be set in the sandbox's config file, its secret
// from a file or HUBSPOT_CLIENT_SECRET, never from the config itself.
func TestSandboxWebhooksFromConfig(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o600)
	var mu sync.Mutex
	var keys []string
	var hook *httptest.Server
	hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for _, k := range []string{"from-file", "from-env"} {
			if hubspot.VerifyV3([]byte(k), r.Method, hook.URL+r.URL.RequestURI(), body, r.Header.Get(hubspot.TimestampHeader), r.Header.Get(hubspot.SignatureV3Header), time.Now()) == nil {
				keys = append(keys, k)
			}
		}
	}))
	defer hook.Close()
	base := "token: t\ncontacts_auto: true\n"
	for _, c := range []struct{ name, yaml, env, want string }{
		{"file", base + "webhooks: {url: " + hook.URL + "/hooks, secret_file: " + secretFile + "}\n", "", "from-file"},
		{"env", base + "webhooks: {url: " + hook.URL + "/hooks}\n", "from-env", "from-env"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("HUBSPOT_CLIENT_SECRET", c.env)
			cfg, err := sandbox.ParseConfig([]byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			sb, err := sandbox.New(cfg, sandbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			keys = nil
			mu.Unlock()
			if err := sb.ChangeContact("2001", map[string]string{"jobtitle": "CTO"}); err != nil {
				t.Fatal(err)
			}
			sb.WaitWebhooks()
			mu.Lock()
			defer mu.Unlock()
			if len(keys) != 1 || keys[0] != c.want {
				t.Errorf("deliveries signed with %v, want one with %s", keys, c.want)
			}
		})
	}
	for yaml, want := range map[string]string{
		base + "webhooks: {url: ftp://x/hooks}\n":       "not an http(s) URL",
		base + "webhooks: {secret_file: /x}\n":          "secret_file without webhooks.url",
		base + "webhooks: {url: http://x, secret: s}\n": `unknown key "secret"`,
	} {
		if _, err := sandbox.ParseConfig([]byte(yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yaml, err, want)
		}
	}
	t.Setenv("HUBSPOT_CLIENT_SECRET", "")
	cfg, _ := sandbox.ParseConfig([]byte(base + "webhooks: {url: " + hook.URL + "}\n"))
	if _, err := sandbox.New(cfg, sandbox.Options{}); err == nil || !strings.Contains(err.Error(), "HUBSPOT_CLIENT_SECRET") {
		t.Errorf("no secret: %v", err)
	}
}
