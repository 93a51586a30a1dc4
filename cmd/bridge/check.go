package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

// cmdCheck validates a configuration: every problem on its own line, exit 1
// if there is any.
func cmdCheck(args []string, stdout, stderr io.Writer) error {
	fs := flags("check", stderr)
	config := fs.String("config", envOr("BRIDGE_CONFIG", ""), "bridge configuration (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" && fs.NArg() == 1 {
		*config = fs.Arg(0)
	}
	if *config == "" {
		fmt.Fprintln(stderr, "bridge check: --config is required")
		return exitError(2)
	}
	cfg, err := enrollment.LoadConfig(*config)
	var ce *enrollment.ConfigError
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", *config, len(ce.Problems))
		return exitError(1)
	case err != nil:
		fmt.Fprintln(stdout, err)
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s: ok (sink %s, %d route(s), %d sender(s))\n", *config, cfg.Sink, len(cfg.Routes), len(cfg.Senders))
	return nil
}

// cmdSandbox serves the HubSpot sandbox until SIGINT or SIGTERM.
func cmdSandbox(args []string, stdout, stderr io.Writer) error {
	fs := flags("sandbox", stderr)
	addr := fs.String("addr", envOr("SANDBOX_ADDR", "127.0.0.1:8090"), "listen address (env SANDBOX_ADDR); loopback by default: the admin endpoints under /_sandbox/ have no authentication")
	config := fs.String("config", envOr("SANDBOX_CONFIG", "testdata/sandbox.yaml"), "sandbox configuration (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := sandbox.LoadConfig(*config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "HubSpot sandbox on %s (config %s); admin under /_sandbox/\n", *addr, *config)
	return sandbox.Serve(ctx, *addr, cfg)
}
