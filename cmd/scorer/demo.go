package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/cmd/internal/demo"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/internal/cli"
)

func init() {
	register("demo-report", "scripts/demo.sh's helper: reset, watch (progress line), summary (the closing report) and the HubSpot loop (hubspot-activity, -wait, -report)", demoCmd)
}

// demoCmd is `scorer demo-report`, scripts/demo.sh's helper; cmd/internal/demo
// does the work.
func demoCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: " + demoSubcommands)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flags("demo-report "+args[0], stderr)
	ch := fs.String("clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN of the demo's database")
	scorerURL := fs.String("scorer", "http://127.0.0.1:8080", "scorer run's HTTP base URL")
	bridgeURL := fs.String("bridge", "http://127.0.0.1:8081", "bridge run's HTTP base URL")
	events := fs.String("events", "", "the JSONL history the demo produced")
	timeout := cli.Duration(fs, "timeout", "", 5*time.Minute, "watch: give up after this long")
	config := fs.String("config", "testdata/demo/sandbox.yaml", "sandbox: the sandbox configuration without contacts")
	bridgeConfig := fs.String("bridge-config", "testdata/demo/bridge.yaml", "summary: the bridge's configuration, which the notes on decisions quote")
	example := fs.String("example-out", "", "summary: write the id of a contact enrolled in a sequence to this file")
	sandboxURL := fs.String("sandbox", "http://127.0.0.1:8090", "hubspot-*: the HubSpot sandbox's base URL")
	ingestURL := fs.String("ingest", "http://127.0.0.1:8082", "hubspot-*: bridge ingest's HTTP base URL")
	activity := fs.String("activity", "", "hubspot-*: the file of what the demo did in HubSpot (written by hubspot-activity)")
	newContacts := fs.Int("new", 20, "hubspot-activity: contacts created in HubSpot")
	known := fs.Int("known", 200, "hubspot-activity: contacts of the history who open HubSpot emails")
	ingestIn := fs.String("summary-ingest", "", "summary: bridge ingest's HTTP base URL, to count the events it produced (empty: no ingest)")
	exampleID := fs.String("example", "", "hubspot-report: a contact of the history to show")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "reset":
		return demoReset(ctx, *ch, stdout)
	case "watch":
		n, _, err := demo.CountEvents(*events)
		if err != nil {
			return err
		}
		return demo.Watch(ctx, *scorerURL, *bridgeURL, n, *timeout, stdout)
	case "sandbox":
		return demo.SandboxContacts(*config, *events, stdout)
	case "summary":
		cfg, err := enrollment.LoadConfig(*bridgeConfig)
		if err != nil {
			return err
		}
		store, err := openStore(ctx, *ch)
		if err != nil {
			return err
		}
		defer store.Close()
		return demo.Summary(ctx, demo.SummaryOptions{Store: store, ScorerURL: *scorerURL, BridgeURL: *bridgeURL,
			Events: *events, Bridge: cfg, ExampleOut: *example, IngestURL: *ingestIn}, stdout)
	case "hubspot-activity":
		a, err := demo.MakeActivity(ctx, demo.ActivityOptions{SandboxURL: *sandboxURL, Events: *events, New: *newContacts,
			Known: *known, Now: time.Now().UTC()}, stdout)
		if err != nil {
			return err
		}
		return demo.SaveActivity(*activity, a)
	case "hubspot-wait":
		a, err := demo.LoadActivity(*activity)
		if err != nil {
			return err
		}
		return demo.WaitLoop(ctx, demo.LoopURLs{Scorer: *scorerURL, Bridge: *bridgeURL, Ingest: *ingestURL, Sandbox: *sandboxURL}, a, *timeout, stdout)
	case "hubspot-report":
		a, err := demo.LoadActivity(*activity)
		if err != nil {
			return err
		}
		cfg, err := enrollment.LoadConfig(*bridgeConfig)
		if err != nil {
			return err
		}
		token, err := hubspot.LoadToken("HUBSPOT_TOKEN", cfg.HubSpot.TokenFile)
		if err != nil {
			return err
		}
		return demo.HubSpotReport(ctx, demo.HubSpotReportOptions{URLs: demo.LoopURLs{Scorer: *scorerURL, Bridge: *bridgeURL,
			Ingest: *ingestURL, Sandbox: *sandboxURL}, Token: token, Bridge: cfg, Activity: a, Example: *exampleID}, stdout)
	}
	return fmt.Errorf("unknown subcommand %q: want %s", args[0], demoSubcommands)
}

const demoSubcommands = "reset, sandbox, watch, summary, hubspot-activity, hubspot-wait or hubspot-report"

// demoReset drops and recreates the demo's database, so a second run
// starts from nothing.
func demoReset(ctx context.Context, dsn string, stdout io.Writer) error {
	if dsn == "" {
		return errors.New("--clickhouse is required")
	}
	s, err := analytics.Open(ctx, dsn)
	if err != nil {
		return err
	}
	if err := s.DropDatabase(ctx); err != nil {
		s.Close()
		return err
	}
	s.Close()
	s, err = analytics.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "ClickHouse %s: database %s reset\n", s.ServerVersion(), s.Database())
	return nil
}
