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
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/studio"
)

func init() {
	register("studio", "Score Studio: a web console for the people who tune scores (overview, contact, preview, calibration, bridge, live)", studioCmd)
}

func studioCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("studio", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "the live rule files or directory (repeatable; read, never written)")
	input := fs.String("events", "", "the history: a JSONL events file")
	dsn := fs.String("clickhouse", "", "or the history stored in ClickHouse (the touches the scorer recorded)")
	scorerURL := fs.String("scorer", envOr("STUDIO_SCORER", ""), "the scorer's HTTP address for the Live page, e.g. http://127.0.0.1:8080 (env STUDIO_SCORER)")
	bridgeURL := fs.String("bridge", envOr("STUDIO_BRIDGE", ""), "the bridge's HTTP address for decisions and the Bridge page, e.g. http://127.0.0.1:8081 (env STUDIO_BRIDGE)")
	addr := fs.String("http", envOr("STUDIO_HTTP", "127.0.0.1:8070"), "listen address (env STUDIO_HTTP); anything but loopback needs a token")
	tokenFile := fs.String("token-file", "", "file holding the token every request must carry (or env STUDIO_TOKEN)")
	bridgeTokenFile := fs.String("bridge-token-file", "", "file holding the bridge's API token, for its /decisions and /quota (or env STUDIO_BRIDGE_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(rulePaths) == 0 || (*input == "") == (*dsn == "") {
		return errors.New("--rules DIR and one history, --events FILE or --clickhouse DSN, are required")
	}
	token := os.Getenv("STUDIO_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	bridgeToken := os.Getenv("STUDIO_BRIDGE_TOKEN")
	if *bridgeTokenFile != "" {
		b, err := os.ReadFile(*bridgeTokenFile)
		if err != nil {
			return fmt.Errorf("--bridge-token-file: %w", err)
		}
		bridgeToken = strings.TrimSpace(string(b))
	}
	if token == "" && !studio.IsLoopback(*addr) {
		return fmt.Errorf("--http %s is not a loopback address: set a token (STUDIO_TOKEN or --token-file) so that only those who have it get in", *addr)
	}
	log := zerolog.New(stderr).With().Timestamp().Str("service", "studio").Logger()
	start := time.Now()
	source, watch, load := studioHistory(*input, *dsn)
	h, err := load()
	if err != nil {
		return err
	}
	srv, err := studio.New(studio.Config{
		Rules: rulePaths, History: h, Source: source, Watch: watch, Reload: load,
		ScorerURL: *scorerURL, BridgeURL: *bridgeURL, BridgeToken: bridgeToken, Token: token, Log: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", *addr, err)
	}
	log.Info().Str("history", h.String()).Dur("ready_in", time.Since(start)).Msg("studio loaded the history")
	fmt.Fprintf(stdout, "Score Studio on http://%s/\n", ln.Addr())
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shut)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// studioHistory is where the studio reads its history from: the events
// file (read again when it changes: watch), or ClickHouse (exported again
// on request). load reads it into memory; the studio answers every page,
// calibration included, from what load returned last.
func studioHistory(input, dsn string) (source, watch string, load func() (*backtest.History, error)) {
	read := func(path string) (*backtest.History, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		h, err := backtest.Load(f, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return h, nil
	}
	if dsn == "" {
		return input, input, func() (*backtest.History, error) { return read(input) }
	}
	return "ClickHouse history", "", func() (*backtest.History, error) {
		p, err := historyFile(dsn)
		if err != nil {
			return nil, err
		}
		defer os.Remove(p)
		return read(p)
	}
}
