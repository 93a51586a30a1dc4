package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
)

// `bridge run` killed with SIGKILL after its enrollment request reached
// HubSpot (which stored it) and before the answer: the call was stored
// before it was sent, so the next start records it in api_calls as
// interrupted (status 0, enrollment.InterruptedCall) and the audit shows
// the call that made the enrollment, which the status check then claims
// as ours. Without the start record the enrollment had no api_calls row.
func TestKill9DuringCallLeavesInterruptedRow(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_bridge_kill9")

	e := bt.NewEnv(t, 190)
	const victim = "k9-victim"
	// HubSpot stores the victim's enrollment, then the answer never comes.
	arrived := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Method == http.MethodPost && hubspot.IsEnrollPath(r.URL.Path) && bytes.Contains(body, []byte(`"contactId":"`+victim+`"`)) {
			select {
			case <-arrived:
			default:
				e.Sandbox.ServeHTTP(httptest.NewRecorder(), r)
				close(arrived)
				<-r.Context().Done() // until the client is gone
				return
			}
		}
		e.Sandbox.ServeHTTP(w, r)
	}))
	defer front.Close()
	cfg, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Config, bytes.ReplaceAll(cfg, []byte(e.HubURL), []byte(front.URL)), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "run", "--config", e.Config, "--state-dir", e.StateDir, "--http", addr,
		"--crossings-topic", bt.Topic, "--dlq-topic", bt.DLQ, "--tick", "200ms", "--clickhouse", dsn)
	cmd.Env = append(os.Environ(), "BRIDGE_TEST_MAIN=1", "KAFKA_BROKERS="+strings.Join(e.Brokers, ","),
		"HUBSPOT_TOKEN="+bt.Token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	e.Produce(t, bt.Crossing(victim, "engagement", "sales", "u-1", "lead"))
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatalf("the enrollment never reached HubSpot\n%s", out.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if n := e.Enrollments()[victim]; n != 1 {
		t.Fatalf("HubSpot holds %d enrollments of %s before the restart", n, victim)
	}

	o := e.Options(nil)
	o.ClickHouse = dsn
	r := bt.Start(t, o)
	bt.WaitFor(t, 30*time.Second, "the victim's enrolled decision", func() bool {
		a := r.Decisions(t, victim)
		return a.Source == "clickhouse" && len(a.Decisions) > 0 && a.Decisions[len(a.Decisions)-1].Outcome == "enrolled"
	})
	ch, err := analytics.Open(bt.Context(t, 10*time.Second), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var calls []analytics.APICall
	defer func() {
		if t.Failed() {
			t.Logf("calls %+v\nkilled bridge:\n%s\nrestarted:\n%s", calls, out.String(), r.Log.String())
		}
	}()
	bt.WaitFor(t, 20*time.Second, "the cut enrollment call in api_calls", func() bool {
		rep, err := ch.APICalls(bt.Context(t, 5*time.Second), victim)
		if err != nil {
			return false
		}
		calls = rep.Calls
		for _, c := range calls {
			if isEnrollCall(c) {
				return true
			}
		}
		return false
	})
	posts := 0
	for _, c := range calls {
		if strings.Contains(c.RequestBody+c.ResponseBody+c.Error, bt.Token) {
			t.Errorf("token in api_calls row %+v", c)
		}
		if !isEnrollCall(c) {
			continue
		}
		posts++
		if c.Status != 0 || c.Error != enrollment.InterruptedCall || c.CrossingID == "" ||
			!strings.Contains(c.RequestBody, `"contactId":"`+victim+`"`) {
			t.Errorf("cut call recorded as %+v", c)
		}
	}
	if posts != 1 || e.Enrollments()[victim] != 1 {
		t.Errorf("%d enrollment calls audited, %d enrollments at HubSpot; want 1 and 1: %+v", posts, e.Enrollments()[victim], calls)
	}
	if !strings.Contains(r.Log.String(), "recorded in api_calls as interrupted") {
		t.Errorf("no log line for the interrupted call:\n%s", r.Log.String())
	}
}

func isEnrollCall(c analytics.APICall) bool {
	path, _, _ := strings.Cut(c.Path, "?")
	return c.Method == http.MethodPost && hubspot.IsEnrollPath(path)
}
