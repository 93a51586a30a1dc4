package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/writeback"
)

// cmdWritebackCheck compares HubSpot's contact properties with the latest
// lead-scores messages (the JSON lines `scorer state scores` prints).
func cmdWritebackCheck(args []string, stdout, stderr io.Writer) error {
	fs := flags("writeback-check", stderr)
	config := fs.String("config", envOr("BRIDGE_CONFIG", ""), "bridge configuration with a writeback section")
	scores := fs.String("scores", "", "JSON lines of lead-scores messages, one per contact (scorer state scores)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" || *scores == "" {
		fmt.Fprintln(stderr, "bridge writeback-check: --config and --scores are required")
		return exitError(2)
	}
	cfg, err := enrollment.LoadConfig(*config)
	if err != nil {
		return err
	}
	if cfg.Writeback == nil {
		return fmt.Errorf("%s has no writeback section", *config)
	}
	f, err := os.Open(*scores)
	if err != nil {
		return err
	}
	defer f.Close()
	var msgs []leadscores.Message
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var key struct {
			ContactID string `json:"contact_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &key); err != nil {
			return fmt.Errorf("%s:%d: %w", *scores, line, err)
		}
		m, _, err := leadscores.Decode([]byte(key.ContactID), sc.Bytes())
		if err != nil {
			return fmt.Errorf("%s:%d: %w", *scores, line, err)
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", *scores, err)
	}
	token, err := hubspot.LoadToken("HUBSPOT_TOKEN", cfg.HubSpot.TokenFile)
	if err != nil {
		return err
	}
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: cfg.HubSpot.BaseURL, Token: token,
		RequestsPerInterval: cfg.HubSpot.RequestsPer10s, Interval: 10 * time.Second})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	problems, missing, err := writeback.Verify(ctx, cfg.Writeback, client, msgs)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintf(stderr, "%d contacts checked: %d with properties that differ, %d missing in HubSpot (%s)\n",
		len(msgs), countContacts(problems), len(missing), strings.Join(missing, ", "))
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New("HubSpot's properties differ from the scores")
	}
	return nil
}

func countContacts(problems []string) int {
	seen := map[string]bool{}
	for _, p := range problems {
		id, _, _ := strings.Cut(strings.TrimPrefix(p, "contact "), ":")
		seen[id] = true
	}
	return len(seen)
}
