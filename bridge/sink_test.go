package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
)

// The bridge's HubSpot client makes one attempt per call: the Retry loop
// is the one that retries an enrollment, so attempts do not multiply
// across layers (issue 14). HubSpot answering 503 to every enrollment
// gets exactly Retry's attempts, not Retry's times the client's.
func TestEnrollAttemptsDoNotMultiply(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests) // refused before processing: retryable at every layer
		w.Write([]byte(`{"status":"error","message":"slow down","category":"RATE_LIMITS"}`))
	}))
	defer srv.Close()
	t.Setenv("HUBSPOT_TOKEN", "test-token")
	cfg, err := enrollment.ParseConfig("mem.yaml", []byte("sink: hubspot\nhubspot: {base_url: "+srv.URL+"}\n"+
		"senders: [{owner_id: u-1, email: ana@example.com, user_id: '101'}]\nroutes: [{model: m, sequence_id: '9001'}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := newSink(cfg, nil, func(hubspot.Call) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	retry := enrollment.Retry{MaxAttempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}
	calls := 0
	err = retry.Do(context.Background(), func() (bool, error) {
		calls++
		_, err := sink.Enroll(context.Background(), enrollment.EnrollRequest{CrossingID: "x", ContactID: "1", SequenceID: "9001", UserID: "101", SenderEmail: "ana@example.com"})
		return enrollment.Classify(err) == enrollment.Retryable, err
	})
	if err == nil {
		t.Fatal("every answer was 429, yet the enrollment succeeded")
	}
	if calls != 3 || posts.Load() != 3 {
		t.Errorf("%d Retry attempts made %d POSTs; want 3 and 3 (one HTTP attempt per call): %v", calls, posts.Load(), err)
	}
}
