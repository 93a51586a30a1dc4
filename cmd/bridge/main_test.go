package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
)

// TestMain lets the test binary stand in for the bridge command, so the
// signal test runs the real flags, environment and exit code.
func TestMain(m *testing.M) {
	if os.Getenv("BRIDGE_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// `bridge run` configured by flags and environment enrolls, then exits 0
// within seconds of SIGTERM, with the token nowhere in its output.
func TestRunProcessSIGTERM(t *testing.T) {
	e := bt.NewEnv(t, 190)
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "run", "--config", e.Config, "--state-dir", e.StateDir, "--http", addr,
		"--crossings-topic", bt.Topic, "--dlq-topic", bt.DLQ, "--tick", "200ms")
	cmd.Env = append(os.Environ(), "BRIDGE_TEST_MAIN=1", "KAFKA_BROKERS="+strings.Join(e.Brokers, ","),
		"HUBSPOT_TOKEN="+bt.Token, "CLICKHOUSE_DSN=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	r := &bt.Running{Addr: addr}
	bt.WaitFor(t, 30*time.Second, "readyz", func() bool { return r.Get(t, "/readyz") == "ready\n" })
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	e.Produce(t, bt.Crossing("p1", "engagement", "sales", "u-1", "lead"))
	bt.WaitFor(t, 20*time.Second, "p1 enrolled", func() bool { return e.Enrollments()["p1"] == 1 })

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM\n%s", out.String())
	}
	t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if strings.Contains(out.String(), bt.Token) {
		t.Fatal("the token appears in the output")
	}
	if !strings.Contains(out.String(), `"message":"bridge stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", out.String())
	}
}

// `bridge sandbox` serves the HubSpot sandbox until SIGTERM.
func TestSandboxCommand(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "sandbox", "--addr", addr, "--config", "../../testdata/sandbox.yaml")
	cmd.Env = append(os.Environ(), "BRIDGE_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var status int
	bt.WaitFor(t, 10*time.Second, "the sandbox answering", func() bool {
		req, _ := http.NewRequest("GET", "http://"+addr+"/automation/v4/sequences/9001?userId=101", nil)
		req.Header.Set("Authorization", "Bearer sandbox-token-change-me")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		status = resp.StatusCode
		return true
	})
	if status != 200 {
		t.Fatalf("GET sequence 9001 = %d", status)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sandbox exit: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox still running after SIGTERM")
	}
}
