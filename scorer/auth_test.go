package scorer

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/internal/syncbuf"
)

// A score endpoint reachable beyond loopback without a token is refused at
// start, before Kafka is touched.
func TestRunRefusesOpenScoresWithoutToken(t *testing.T) {
	for _, addr := range []string{":8080", "0.0.0.0:0", "[::]:0"} {
		err := Run(context.Background(), Options{Brokers: []string{"127.0.0.1:1"}, HTTP: addr, Log: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), "is not loopback and no API token is set") || !strings.Contains(err.Error(), "SCORER_API_TOKEN") {
			t.Errorf("Run(http %s, no token) = %v", addr, err)
		}
	}
}

// Beyond loopback with a token, /contacts/{id}/score answers only the
// bearer of the token; probes and metrics stay open; the log says the
// endpoint is guarded, never the token.
func TestRunGuardsScoresWithToken(t *testing.T) {
	const token = "scorer-api-token-91c2"
	e := setup(t, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncbuf.Buffer
	addr, done := serve(t, ctx, Options{
		Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules"},
		HTTP: "0.0.0.0:0", APIToken: token, Log: zerolog.New(&logs),
	})
	base := "http://127.0.0.1:" + addr[strings.LastIndex(addr, ":")+1:]
	status := func(path, auth string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	id := e.events[0].ContactID
	for _, tc := range []struct {
		path, auth string
		want       []int
	}{
		{"/healthz", "", []int{200}},
		{"/readyz", "", []int{200, 503}},
		{"/metrics", "", []int{200}},
		{"/contacts/" + id + "/score", "", []int{401}},
		{"/contacts/" + id + "/score", "Bearer wrong", []int{401}},
		// Past the guard: 200, or 404 while the contact's partition is not held yet.
		{"/contacts/" + id + "/score", "Bearer " + token, []int{200, 404}},
		{"/contacts/" + id + "/score", "BEARER " + token, []int{200, 404}},
	} {
		if got := status(tc.path, tc.auth); !containsInt(tc.want, got) {
			t.Errorf("GET %s (Authorization %q) = %d, want one of %v", tc.path, tc.auth, got, tc.want)
		}
	}
	cancel()
	<-done
	if strings.Contains(logs.String(), token) || !strings.Contains(logs.String(), `"api_token":true`) {
		t.Errorf("log leaks the token or does not say the endpoint is guarded:\n%s", logs.String())
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
