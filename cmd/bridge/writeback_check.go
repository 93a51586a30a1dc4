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

	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/writeback"
)

// cmdWritebackCheck compares HubSpot's contact properties with the latest
// lead-scores messages (the JSON lines `scorer state scores` prints), and
// its company properties with the latest company-scores messages (`scorer
// state company-scores`).
func cmdWritebackCheck(args []string, stdout, stderr io.Writer) error {
	fs := flags("writeback-check", stderr)
	config := fs.String("config", envOr("BRIDGE_CONFIG", ""), "bridge configuration with a writeback section")
	scores := fs.String("scores", "", "JSON lines of lead-scores messages, one per contact (scorer state scores)")
	companyScores := fs.String("company-scores", "", "JSON lines of company-scores messages, one per company (scorer state company-scores); needs writeback.companies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" || *scores == "" && *companyScores == "" {
		fmt.Fprintln(stderr, "bridge writeback-check: --config and --scores or --company-scores are required")
		return exitError(2)
	}
	cfg, err := enrollment.LoadConfig(*config)
	if err != nil {
		return err
	}
	if cfg.Writeback == nil {
		return fmt.Errorf("%s has no writeback section", *config)
	}
	if *companyScores != "" && cfg.Writeback.Companies == nil {
		return fmt.Errorf("%s has no writeback.companies section: company properties are not written", *config)
	}
	var msgs []leadscores.Message
	if *scores != "" {
		if msgs, err = leadscores.ReadFile(*scores); err != nil {
			return err
		}
	}
	var companies []companyscores.Message
	if *companyScores != "" {
		if companies, err = companyscores.ReadFile(*companyScores); err != nil {
			return err
		}
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
	differ := false
	show := func(c writeback.Check, err error) error {
		for _, p := range c.Problems {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintln(stderr, c)
		differ = differ || c.Differ > 0
		return err
	}
	if *scores != "" {
		if err := show(writeback.Verify(ctx, cfg.Writeback, client, msgs)); err != nil {
			return err
		}
	}
	if *companyScores != "" {
		if err := show(writeback.VerifyCompanies(ctx, cfg.Writeback.Companies, client, companies)); err != nil {
			return err
		}
	}
	if differ {
		return errors.New("HubSpot's properties differ from the scores")
	}
	return nil
}
