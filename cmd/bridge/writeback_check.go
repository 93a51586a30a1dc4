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
		err = eachLine(*scores, "contact_id", func(key, line []byte) error {
			m, _, err := leadscores.Decode(key, line)
			msgs = append(msgs, m)
			return err
		})
		if err != nil {
			return err
		}
	}
	var companies []companyscores.Message
	if *companyScores != "" {
		err = eachLine(*companyScores, "company_id", func(key, line []byte) error {
			m, _, err := companyscores.Decode(key, line)
			companies = append(companies, m)
			return err
		})
		if err != nil {
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
	if *scores != "" {
		problems, missing, err := writeback.Verify(ctx, cfg.Writeback, client, msgs)
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintf(stderr, "%d contacts checked: %d with properties that differ, %d missing in HubSpot (%s)\n",
			len(msgs), countRecords(problems, "contact "), len(missing), strings.Join(missing, ", "))
		if err != nil {
			return err
		}
		differ = len(problems) > 0
	}
	if *companyScores != "" {
		problems, missing, err := writeback.VerifyCompanies(ctx, cfg.Writeback.Companies, client, companies)
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintf(stderr, "%d companies checked: %d with properties that differ, %d missing in HubSpot (%s)\n",
			len(companies), countRecords(problems, "company "), len(missing), strings.Join(missing, ", "))
		if err != nil {
			return err
		}
		differ = differ || len(problems) > 0
	}
	if differ {
		return errors.New("HubSpot's properties differ from the scores")
	}
	return nil
}

// eachLine calls fn with every JSON line of file and the value of its key
// field; errors name the file and line.
func eachLine(file, keyField string, fn func(key, line []byte) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var key map[string]json.RawMessage
		var id string
		if err := json.Unmarshal(sc.Bytes(), &key); err != nil {
			return fmt.Errorf("%s:%d: %w", file, line, err)
		}
		json.Unmarshal(key[keyField], &id)
		if err := fn([]byte(id), sc.Bytes()); err != nil {
			return fmt.Errorf("%s:%d: %w", file, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func countRecords(problems []string, prefix string) int {
	seen := map[string]bool{}
	for _, p := range problems {
		id, _, _ := strings.Cut(strings.TrimPrefix(p, prefix), ":")
		seen[id] = true
	}
	return len(seen)
}
