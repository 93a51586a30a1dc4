package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scorebridge/scorebridge/bridge"
	"github.com/scorebridge/scorebridge/internal/bearer"
	"github.com/scorebridge/scorebridge/internal/cli"
)

// cmdRun maps `bridge run`'s flags and environment to bridge.Options and
// runs the service until SIGINT or SIGTERM.
func cmdRun(args []string, _, stderr io.Writer) error {
	fs := flags("run", stderr)
	o := bridge.Options{Log: stderr}
	brokers := fs.String("brokers", envOr("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka bootstrap brokers, comma-separated (env KAFKA_BROKERS)")
	fs.StringVar(&o.Topic, "crossings-topic", envOr("CROSSINGS_TOPIC", "lead-score-crossings"), "topic of threshold crossings (env CROSSINGS_TOPIC)")
	fs.StringVar(&o.DLQ, "dlq-topic", envOr("CROSSINGS_DLQ_TOPIC", "lead-score-crossings-dlq"), "dead-letter topic for malformed crossings (env CROSSINGS_DLQ_TOPIC)")
	fs.StringVar(&o.Group, "group", envOr("BRIDGE_GROUP", "bridge"), "consumer group (env BRIDGE_GROUP)")
	fs.IntVar(&o.Partitions, "partitions", 4, "partitions of the crossings topic if the bridge has to create it")
	fs.StringVar(&o.ClickHouse, "clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN for the audit (env CLICKHOUSE_DSN); empty: decisions in the local store, API calls only counted")
	fs.StringVar(&o.HTTP, "http", envOr("BRIDGE_HTTP", "127.0.0.1:8081"), "address of /metrics, /healthz, /readyz, /decisions (env BRIDGE_HTTP); beyond loopback it needs an API token")
	apiToken := fs.String("api-token", "", "bearer token for /decisions (visible in process listings: prefer env BRIDGE_API_TOKEN or --api-token-file); required when --http is not loopback")
	apiTokenFile := fs.String("api-token-file", envOr("BRIDGE_API_TOKEN_FILE", ""), "file holding the API token (env BRIDGE_API_TOKEN_FILE)")
	fs.StringVar(&o.Config, "config", envOr("BRIDGE_CONFIG", ""), "bridge configuration, YAML (env BRIDGE_CONFIG)")
	fs.StringVar(&o.StateDir, "state-dir", envOr("BRIDGE_STATE_DIR", "bridge-state"), "directory of the durable state bridge.db (env BRIDGE_STATE_DIR)")
	fs.IntVar(&o.Workers, "workers", 32, "crossings decided at once (a worker may wait on a sender's lock)")
	cli.DurationVar(fs, &o.Tick, "tick", "", 2*time.Second, "period of held releases, workflow-exit retries and the audit flush (e.g. 500ms, 2s)")
	cli.DurationVar(fs, &o.Grace, "grace", "", 5*time.Second, "on SIGTERM, how long calls in flight may finish")
	cli.DurationVar(fs, &o.Retain, "retain", "", 30*24*time.Hour, "how long final decisions are remembered for de-duplication (and kept in the local audit), e.g. 30d or 4w")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if o.Config == "" {
		fmt.Fprintln(stderr, "bridge run: --config is required")
		return exitError(2)
	}
	o.Brokers = splitList(*brokers)
	token, err := bearer.Load(*apiToken, "BRIDGE_API_TOKEN", *apiTokenFile)
	if err != nil {
		return err
	}
	o.APIToken = token
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bridge.Run(ctx, o)
}
