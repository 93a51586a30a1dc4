package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/internal/bearer"
	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/scorer"
)

func init() {
	register("run", "the scoring service: consume events from Kafka, announce crossings, record touches", runCmd)
}

// newLogger writes JSON lines, or a console format for people.
func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: %w", level, err)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format %q: want json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", "scorer").Logger(), nil
}

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("run", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable; env SCORER_RULES, comma-separated)")
	brokers := cli.Brokers(fs, "Kafka brokers, comma-separated (env KAFKA_BROKERS)")
	eventsTopic := fs.String("events-topic", envOr("EVENTS_TOPIC", "engagement-events"), "events topic (env EVENTS_TOPIC)")
	crossings := fs.String("crossings-topic", envOr("CROSSINGS_TOPIC", "lead-score-crossings"), "crossings topic (env CROSSINGS_TOPIC, shared with the bridge)")
	dlq := fs.String("dlq-topic", envOr("EVENTS_DLQ_TOPIC", "engagement-events-dlq"), "dead-letter topic for malformed events (env EVENTS_DLQ_TOPIC)")
	changelog := fs.String("changelog-topic", envOr("SCORER_CHANGELOG_TOPIC", ""), "compacted state topic (env SCORER_CHANGELOG_TOPIC; default EVENTS-TOPIC-scorer-state)")
	scoresTopic := fs.String("scores-topic", envOr("SCORES_TOPIC", "lead-scores"), "compacted topic of every contact's current scores, keyed by contact_id (env SCORES_TOPIC; docs/lead-scores.md); empty: not published")
	companies := fs.String("companies-topic", envOr("COMPANIES_TOPIC", ""), "with company models: contacts' changes keyed by company_id (env COMPANIES_TOPIC; default EVENTS-TOPIC-companies)")
	companyScores := fs.String("company-scores-topic", envOr("COMPANY_SCORES_TOPIC", "company-scores"), "with company models: compacted topic of every company's current scores, keyed by company_id (env COMPANY_SCORES_TOPIC; docs/company-scores.md); empty: not published")
	partitions := fs.Int("partitions", 6, "partitions of topics the scorer creates (existing topics are kept)")
	group := fs.String("group", envOr("SCORER_GROUP", "scorer"), "consumer group (env SCORER_GROUP)")
	ch := fs.String("clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN, e.g. clickhouse://127.0.0.1:9000/scorebridge (env CLICKHOUSE_DSN); empty: no touch history")
	addr := fs.String("http", envOr("SCORER_HTTP", "127.0.0.1:8080"), "HTTP address for /metrics, /healthz, /readyz, /contacts/{id}/score (env SCORER_HTTP); beyond loopback it needs an API token")
	apiToken := fs.String("api-token", "", "bearer token for /contacts/{id}/score (visible in process listings: prefer env SCORER_API_TOKEN or --api-token-file); required when --http is not loopback")
	apiTokenFile := fs.String("api-token-file", envOr("SCORER_API_TOKEN_FILE", ""), "file holding the API token (env SCORER_API_TOKEN_FILE)")
	stateDir := fs.String("state-dir", envOr("SCORER_STATE_DIR", ""), "directory for local state snapshots (fast restarts); empty: restore from the changelog")
	acceptSince := fs.String("accept-since", envOr("SCORER_ACCEPT_SINCE", scorer.DefaultNotBefore.Format(time.DateOnly)),
		"earliest occurred_at accepted, a date or an RFC 3339 time (env SCORER_ACCEPT_SINCE); earlier events are dead-lettered")
	ahead := cli.Duration(fs, "accept-ahead", "SCORER_ACCEPT_AHEAD", 24*time.Hour,
		"how far after the scorer's clock an occurred_at is accepted, more than 0, e.g. 1m, 24h or 1d (env SCORER_ACCEPT_AHEAD); later events are dead-lettered")
	logFormat := fs.String("log-format", "json", "json or console")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if len(rulePaths) == 0 {
		if env := os.Getenv("SCORER_RULES"); env != "" {
			rulePaths = strings.Split(env, ",")
		} else {
			return errors.New("--rules is required (or SCORER_RULES): a rule file or a directory of *.yaml")
		}
	}
	since, err := dialect.ParseTime(*acceptSince)
	if err != nil || since.IsZero() {
		return fmt.Errorf("--accept-since %q: want a date (2000-01-01) or an RFC 3339 time", *acceptSince)
	}
	if *ahead == 0 {
		// Refused rather than taken literally: producers' clocks run a
		// little ahead of the scorer's, and 0 would dead-letter live events
		// at random. Nor does it fall back to the default silently.
		return errors.New("--accept-ahead 0: must be more than 0 (events stamped even a moment after the scorer's clock would be dead-lettered); give the clock skew you tolerate, e.g. 1m, or leave the default 24h")
	}
	accept := scorer.TimeWindow{NotBefore: since.UTC(), MaxAhead: *ahead}
	if err := accept.Validate(); err != nil {
		return fmt.Errorf("--accept-since/--accept-ahead: %w", err)
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	token, err := bearer.Load(*apiToken, "SCORER_API_TOKEN", *apiTokenFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return scorer.Run(ctx, scorer.Options{
		Brokers: brokers(), EventsTopic: *eventsTopic, CrossingsTopic: *crossings,
		DLQTopic: *dlq, ChangelogTopic: *changelog, ScoresTopic: *scoresTopic, Partitions: *partitions, Group: *group,
		Rules: rulePaths, ClickHouse: *ch, HTTP: *addr, APIToken: token, StateDir: *stateDir, Accept: accept, Log: log,
		CompaniesTopic: *companies, CompanyScoresTopic: *companyScores,
	})
}
