package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/ingest"
	"github.com/scorebridge/scorebridge/stream"
)

// cmdIngest serves POST /hubspot/webhooks: HubSpot's signed webhooks
// become events on the events topic.
func cmdIngest(args []string, stdout, stderr io.Writer) error {
	fs := flags("ingest", stderr)
	addr := fs.String("addr", envOr("INGEST_ADDR", "127.0.0.1:8082"), "listen address (env INGEST_ADDR)")
	publicURL := fs.String("public-url", envOr("INGEST_PUBLIC_URL", ""), "the URL HubSpot calls, without the path, when behind a proxy (e.g. https://hooks.example.com); empty: rebuilt from the request")
	brokers := fs.String("brokers", envOr("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("events-topic", envOr("EVENTS_TOPIC", "engagement-events"), "events topic (env EVENTS_TOPIC)")
	dlq := fs.String("dlq-topic", envOr("INGEST_DLQ_TOPIC", "hubspot-webhooks-dlq"), "webhook items that cannot be events (env INGEST_DLQ_TOPIC)")
	secretFile := fs.String("secret-file", envOr("HUBSPOT_CLIENT_SECRET_FILE", ""), "file holding the app's client secret; else HUBSPOT_CLIENT_SECRET")
	config := fs.String("config", envOr("BRIDGE_CONFIG", ""), "bridge configuration: its writeback properties are not ingested (loop guard)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret, err := clientSecret(*secretFile)
	if err != nil {
		return err
	}
	log := zerolog.New(stderr).With().Timestamp().Str("service", "ingest").Logger()
	h := &ingest.Webhooks{Secret: secret, PublicURL: strings.TrimRight(*publicURL, "/"), Log: log}
	if *config != "" {
		cfg, err := enrollment.LoadConfig(*config)
		if err != nil {
			return err
		}
		if cfg.Writeback != nil {
			h.Owned = cfg.Writeback.Owns
		}
	}
	bs := splitList(*brokers)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := stream.EnsureTopics(ctx, bs, stream.Topic{Name: *topic, Partitions: 6}, stream.Topic{Name: *dlq, Partitions: 1}); err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	for name, p := range map[string]*ingest.Producer{*topic: &h.Events, *dlq: &h.DeadLetters} {
		sp, err := stream.NewProducer(stream.ProducerConfig{Brokers: bs, Topic: name})
		if err != nil {
			return err
		}
		defer sp.Close()
		*p = sp
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hubspot/webhooks", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info().Str("addr", ln.Addr().String()).Str("topic", *topic).Msg("ingest running")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// clientSecret comes from a file or HUBSPOT_CLIENT_SECRET; never logged.
func clientSecret(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("client secret: %w", err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("client secret file %s is empty", file)
	}
	if s := os.Getenv("HUBSPOT_CLIENT_SECRET"); s != "" {
		return []byte(s), nil
	}
	return nil, errors.New("no client secret: set HUBSPOT_CLIENT_SECRET or --secret-file (the app's client secret signs HubSpot's webhooks)")
}
