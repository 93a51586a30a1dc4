package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/ingest"
	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/internal/dialect"
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
	config := fs.String("config", envOr("BRIDGE_CONFIG", ""), "bridge configuration: its writeback properties are not ingested (loop guard); its hubspot section is where the email poller reads")
	emailPoll := cli.Duration(fs, "email-poll", "INGEST_EMAIL_POLL", 0, "poll HubSpot's email events this often (env INGEST_EMAIL_POLL, e.g. 1m); 0: no poller. Needs --config and --state-dir")
	emailSince := fs.String("email-since", envOr("INGEST_EMAIL_SINCE", "24h"), "without a stored cursor, the first poll starts here: an RFC 3339 time or a duration ago (env INGEST_EMAIL_SINCE)")
	emailRate := fs.Int("email-rate", 10, "the poller's requests per 10 s, out of the portal's budget it shares with bridge run")
	stateDir := fs.String("state-dir", envOr("INGEST_STATE_DIR", ""), "directory of the email poller's cursor (email-events-cursor.json) (env INGEST_STATE_DIR)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	secret, err := clientSecret(*secretFile)
	if err != nil {
		return err
	}
	log := zerolog.New(stderr).With().Timestamp().Str("service", "ingest").Logger()
	reg := prometheus.NewRegistry()
	metrics := ingest.NewMetrics(reg)
	h := &ingest.Webhooks{Secret: secret, PublicURL: strings.TrimRight(*publicURL, "/"), Log: log, Metrics: metrics}
	var poller *ingest.EmailPoller
	if *config != "" {
		cfg, err := enrollment.LoadConfig(*config)
		if err != nil {
			return err
		}
		if cfg.Writeback != nil {
			h.Owned = cfg.Writeback.Owns
		}
		if *emailPoll > 0 {
			if poller, err = emailPoller(cfg, *emailSince, *emailRate, *stateDir); err != nil {
				return err
			}
			poller.Interval, poller.Log, poller.Metrics = *emailPoll, log.With().Str("source", "email").Logger(), metrics
		}
	} else if *emailPoll > 0 {
		return errors.New("--email-poll needs --config (its hubspot section: base_url and token_file or HUBSPOT_TOKEN)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ingest.Run(ctx, ingest.Options{
		Addr: *addr, Brokers: splitList(*brokers), EventsTopic: *topic, DLQTopic: *dlq,
		Webhooks: h, Poller: poller, Registry: reg, Log: log,
	})
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

// emailPoller is the email events poller of the bridge config's HubSpot
// account, its cursor in stateDir.
func emailPoller(cfg *enrollment.Config, since string, rate int, stateDir string) (*ingest.EmailPoller, error) {
	if stateDir == "" {
		return nil, errors.New("--email-poll needs --state-dir: the poller's cursor must survive a restart")
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	start, err := sinceTime(since, time.Now())
	if err != nil {
		return nil, err
	}
	token, err := hubspot.LoadToken("HUBSPOT_TOKEN", cfg.HubSpot.TokenFile)
	if err != nil {
		return nil, err
	}
	if rate <= 0 {
		return nil, fmt.Errorf("--email-rate %d: want at least 1 request per 10 s", rate)
	}
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: cfg.HubSpot.BaseURL, Token: token, RequestsPerInterval: rate, Interval: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	return &ingest.EmailPoller{Client: client, Since: start, Cursor: ingest.CursorFile{Path: filepath.Join(stateDir, "email-events-cursor.json")}}, nil
}

// sinceTime reads a time (dialect.ParseTime: RFC 3339 or a date) or a
// duration before now in the dialect's syntax (24h, 7d, 1w).
func sinceTime(s string, now time.Time) (time.Time, error) {
	if t, err := dialect.ParseTime(s); err == nil && !t.IsZero() {
		return t, nil
	}
	d, err := dialect.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--email-since %q: want an RFC 3339 time, a date, or a duration ago such as 24h or 7d", s)
	}
	return now.Add(-d), nil
}
