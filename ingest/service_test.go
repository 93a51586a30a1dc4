package ingest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scorebridge/scorebridge/hubspot"
)

// Run creates its topics, serves a signed webhook into the events topic
// over loopback, answers /healthz and /metrics, and returns nil once its
// context ends.
func TestRun(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Addr: "127.0.0.1:0", Brokers: brokers, EventsTopic: "ev", DLQTopic: "ev-dlq",
			Webhooks: &Webhooks{Secret: []byte(secret), Log: zerolog.Nop(), Metrics: NewMetrics(reg)},
			Registry: reg, Log: zerolog.Nop(), Ready: func(a net.Addr) { ready <- a },
		})
	}()
	var base string
	select {
	case a := <-ready:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not listen within 30 s")
	}

	body := `[{"eventId":71,"subscriptionType":"contact.creation","objectId":4001,"occurredAt":1795168680000}]`
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req, _ := http.NewRequest(http.MethodPost, base+"/hubspot/webhooks", bytes.NewReader([]byte(body)))
	req.Header.Set(hubspot.TimestampHeader, now)
	req.Header.Set(hubspot.SignatureV3Header, hubspot.SignV3([]byte(secret), "POST", base+"/hubspot/webhooks", []byte(body), now))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed webhook: %d", resp.StatusCode)
	}
	evs := read(t, brokers, "ev", 6)
	if len(evs) != 1 || string(evs[0].Key) != "4001" || !strings.Contains(string(evs[0].Value), `"hubspot-webhook-71"`) {
		t.Fatalf("events topic: %v", evs)
	}
	get := func(path string) string {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if got := get("/healthz"); got != "ok\n" {
		t.Errorf("/healthz: %q", got)
	}
	if got := get("/metrics"); !strings.Contains(got, "bridge_ingest_produced_total") {
		t.Errorf("/metrics has no bridge_ingest_produced_total:\n%s", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after its context ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of its context ending")
	}
}
