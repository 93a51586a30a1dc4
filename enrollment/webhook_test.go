package enrollment

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type received struct {
	payload  WebhookPayload
	header   http.Header
	validSig bool
}

// receiver is a webhook endpoint over loopback that checks signatures as a
// real receiver would and answers with the scripted statuses.
func receiver(t *testing.T, secret []byte, statuses ...int) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("body not JSON: %v", err)
		}
		mu.Lock()
		got = append(got, received{p, r.Header.Clone(), VerifySignature(secret, body, r.Header.Get(HeaderSignature))})
		n := len(got)
		mu.Unlock()
		status := http.StatusOK
		if n <= len(statuses) {
			status = statuses[n-1]
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		w.WriteHeader(status)
		if status >= 400 {
			io.WriteString(w, "  no such sequence\n")
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func TestWebhookSignsEveryCall(t *testing.T) {
	secret := []byte("s3cret")
	srv, got := receiver(t, secret)
	w := &Webhook{URL: srv.URL, Secret: secret, Now: func() time.Time { return t0 }}
	ctx := context.Background()
	enr, err := w.Enroll(ctx, EnrollRequest{CrossingID: "x1", ContactID: "k1", SequenceID: "9001", UserID: "101", SenderEmail: "ana@example.com"})
	if err != nil || enr.SequenceID != "9001" {
		t.Fatalf("%v %+v", err, enr)
	}
	if err := w.EnrollWorkflow(ctx, "501", "k1@prospect.com"); err != nil {
		t.Fatal(err)
	}
	if err := w.UnenrollWorkflow(ctx, "501", "k1@prospect.com"); err != nil {
		t.Fatal(err)
	}
	calls := got()
	if len(calls) != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	wantActions := []string{"sequence.enroll", "workflow.enroll", "workflow.unenroll"}
	for i, c := range calls {
		if !c.validSig {
			t.Errorf("call %d: bad signature %q", i, c.header.Get(HeaderSignature))
		}
		if c.payload.Action != wantActions[i] {
			t.Errorf("call %d: action %q", i, c.payload.Action)
		}
		if ts := c.header.Get(HeaderTimestamp); ts != strconv.FormatInt(t0.Unix(), 10) || c.payload.SentAt != t0.Unix() {
			t.Errorf("call %d: timestamp header %q body %d", i, ts, c.payload.SentAt)
		}
		if c.header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", c.header.Get("Content-Type"))
		}
	}
	if k := calls[0].header.Get(HeaderIdempotencyKey); k != "x1" {
		t.Errorf("idempotency key %q", k)
	}
	if p := calls[0].payload; p.ContactID != "k1" || p.SenderEmail != "ana@example.com" || p.UserID != "101" {
		t.Errorf("payload %+v", p)
	}
}

func TestWebhookWrongSecretDetected(t *testing.T) {
	srv, got := receiver(t, []byte("right"))
	w := &Webhook{URL: srv.URL, Secret: []byte("wrong")}
	if err := w.EnrollWorkflow(context.Background(), "501", "a@b.c"); err != nil {
		t.Fatal(err)
	}
	if got()[0].validSig {
		t.Fatal("signature made with the wrong secret verified")
	}
	body := []byte(`{"a":1}`)
	if VerifySignature([]byte("k"), []byte(`{"a":2}`), Sign([]byte("k"), body)) {
		t.Fatal("tampered body verified")
	}
}

func TestWebhookErrors(t *testing.T) {
	tests := []struct {
		status int
		class  FailureClass
		msg    string
		retry  time.Duration
	}{
		{http.StatusBadRequest, Permanent, "no such sequence", 0},
		{http.StatusTooManyRequests, Retryable, "no such sequence", 3 * time.Second},
		{http.StatusBadGateway, Ambiguous, "no such sequence", 0},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			srv, _ := receiver(t, []byte("k"), tt.status)
			w := &Webhook{URL: srv.URL, Secret: []byte("k")}
			_, err := w.Enroll(context.Background(), EnrollRequest{CrossingID: "x"})
			se, ok := err.(*SinkError)
			if !ok {
				t.Fatalf("%T %v", err, err)
			}
			if se.Class != tt.class || se.Status != tt.status || se.Message != tt.msg || se.RetryAfter != tt.retry {
				t.Errorf("%+v", se)
			}
		})
	}
	// Nothing listening: the request never left, safe to retry.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	w := &Webhook{URL: url, Secret: []byte("k")}
	if _, err := w.Enroll(context.Background(), EnrollRequest{}); Classify(err) != Retryable {
		t.Errorf("refused connection: %v (%v)", Classify(err), err)
	}
	if _, err := w.Status(context.Background(), "k"); err != ErrStatusUnknown {
		t.Errorf("status: %v", err)
	}
}

func TestWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	t.Setenv("SB_TEST_SECRET", "from-env")
	for _, tt := range []struct {
		c    WebhookConfig
		want string
	}{
		{WebhookConfig{SecretEnv: "SB_TEST_SECRET"}, "from-env"},
		{WebhookConfig{SecretFile: file}, "from-file"},
		{WebhookConfig{SecretEnv: "SB_TEST_UNSET"}, ""},
		{WebhookConfig{SecretFile: filepath.Join(dir, "missing")}, ""},
	} {
		got, err := WebhookSecret(tt.c)
		if string(got) != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%+v: %q %v", tt.c, got, err)
		}
	}
}

// The dry run keeps HubSpot's one-sequence rule within a run.
func TestDryRun(t *testing.T) {
	d := NewDryRun()
	ctx := context.Background()
	if _, err := d.Enroll(ctx, EnrollRequest{CrossingID: "c1", ContactID: "k", SequenceID: "1"}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Enroll(ctx, EnrollRequest{CrossingID: "c2", ContactID: "k", SequenceID: "2"})
	if Classify(err) != AlreadyEnrolled {
		t.Fatalf("second enrollment: %v", err)
	}
	if e, _ := d.Status(ctx, "k"); e == nil || e.SequenceID != "1" {
		t.Errorf("status %+v", e)
	}
	if info, _ := d.Sequence(ctx, "1", ""); len(info.EmailOffsets()) != 1 {
		t.Errorf("default projection %+v", info)
	}
	if !strings.HasPrefix(d.Calls()[0], "enroll k 1") {
		t.Errorf("calls %v", d.Calls())
	}
}

// End to end over the pipeline with the webhook sink.
func TestBridgeWithWebhook(t *testing.T) {
	secret := []byte("k")
	srv, got := receiver(t, secret, http.StatusServiceUnavailable)
	b := NewBridge(testCfg(t), openStore(t, t.TempDir()), &Webhook{URL: srv.URL, Secret: secret}, nil,
		func() time.Time { return t0 }, Retry{Sleep: noSleep})
	r := handle(t, b, crossing("a"))
	if r.Decision.Outcome != "enrolled" {
		t.Fatalf("%+v", r.Decision)
	}
	calls := got()
	if len(calls) != 2 || calls[0].header.Get(HeaderIdempotencyKey) != calls[1].header.Get(HeaderIdempotencyKey) {
		t.Errorf("retry after 503 should repeat the same idempotency key: %d calls", len(calls))
	}
}
