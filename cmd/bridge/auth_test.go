package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
	"github.com/scorebridge/scorebridge/internal/syncbuf"
)

const testAPIToken = "bridge-api-token-7f3a"

// A /decisions reachable beyond loopback without a token (contact e-mails,
// owners, scores for anyone who can connect) is refused at start.
func TestRunRefusesOpenDecisionsWithoutToken(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		var out bytes.Buffer
		code := run([]string{"run", "--config", "no-such.yaml", "--http", addr}, &out, &out)
		if code != 1 || !strings.Contains(out.String(), "is not loopback and no API token is set") {
			t.Errorf("bridge run --http %s without a token: exit %d, %s", addr, code, out.String())
		}
	}
	// The default address is loopback: no token needed (it fails later, on the config).
	var out bytes.Buffer
	run([]string{"run", "--config", "no-such.yaml"}, &out, &out)
	if strings.Contains(out.String(), "API token") {
		t.Errorf("bridge run with the default --http asks for a token: %s", out.String())
	}
}

// Beyond loopback with a token: /decisions answers only to the bearer of the
// token (any case of "Bearer"), probes and /metrics stay open, and the token
// appears nowhere in the output. The token comes from a file, as operators
// should give it.
func TestRunGuardsDecisionsWithToken(t *testing.T) {
	e := bt.NewEnv(t, 190)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tokenFile := filepath.Join(t.TempDir(), "api-token")
	if err := os.WriteFile(tokenFile, []byte(testAPIToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "run", "--config", e.Config, "--state-dir", e.StateDir,
		"--http", "0.0.0.0:"+strconv.Itoa(port), "--api-token-file", tokenFile,
		"--crossings-topic", bt.Topic, "--dlq-topic", bt.DLQ, "--tick", "200ms")
	cmd.Env = append(os.Environ(), "BRIDGE_TEST_MAIN=1", "KAFKA_BROKERS="+strings.Join(e.Brokers, ","),
		"HUBSPOT_TOKEN="+bt.Token, "CLICKHOUSE_DSN=")
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	status := func(path, auth string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	bt.WaitFor(t, 30*time.Second, "readyz without a token", func() bool { return status("/readyz", "") == 200 })
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/metrics", "", 200},
		{"/decisions?contact_id=a1", "", 401},
		{"/decisions?contact_id=a1", "Bearer not-the-token", 401},
		{"/decisions?contact_id=a1", "Bearer " + testAPIToken, 200},
		{"/decisions?contact_id=a1", "bearer " + testAPIToken, 200},
	} {
		if got := status(tc.path, tc.auth); got != tc.want {
			t.Errorf("GET %s (Authorization %q) = %d, want %d", tc.path, tc.auth, got, tc.want)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if strings.Contains(out.String(), testAPIToken) {
		t.Fatal("the API token appears in the output")
	}
	if !strings.Contains(out.String(), `"api_token":true`) {
		t.Errorf("the start line does not say the data endpoints are guarded:\n%s", out.String())
	}
}

// The sandbox's admin endpoints (reset, faults) have no authentication, so
// by default it listens on loopback only.
func TestSandboxListensOnLoopbackByDefault(t *testing.T) {
	cmd := exec.Command(os.Args[0], "sandbox", "--config", "../../testdata/sandbox.yaml")
	cmd.Env = append(os.Environ(), "BRIDGE_TEST_MAIN=1", "SANDBOX_ADDR=")
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	bt.WaitFor(t, 10*time.Second, "the sandbox's start line", func() bool { return strings.Contains(out.String(), "HubSpot sandbox on") })
	if !strings.Contains(out.String(), "HubSpot sandbox on 127.0.0.1:8090 ") {
		t.Errorf("default sandbox address is not loopback: %s", out.String())
	}
}
