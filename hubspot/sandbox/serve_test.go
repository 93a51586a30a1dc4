package sandbox_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

func TestServeSandbox(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sandbox.Serve(ctx, addr, sandboxtest.Config(t, nil)) }()

	c, _ := sandboxtest.NewClient(t, "http://"+addr, func(c *hubspot.ClientConfig) { c.MaxAttempts, c.InitialBackoff = 10, 20*time.Millisecond })
	if _, err := c.GetSequence(context.Background(), "9001", "101"); err != nil {
		t.Fatalf("sandbox not serving: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + addr + "/_sandbox/stats"); err == nil {
		t.Error("still serving after shutdown")
	}
	if err := sandbox.Serve(context.Background(), "127.0.0.1:notaport", sandboxtest.Config(t, nil)); err == nil {
		t.Error("bad address accepted")
	}
}
