package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/enrollment"
)

// SummaryOptions say where the closing report reads from.
type SummaryOptions struct {
	Store                *analytics.Store
	ScorerURL, BridgeURL string
	Events               string             // the JSONL history the demo produced
	Bridge               *enrollment.Config // the bridge's configuration, for the notes
	ExampleOut           string             // when set, receives a contact enrolled in a sequence
	IngestURL            string             // bridge ingest's base URL, when events also came from HubSpot
}

// Summary prints the closing report: events, live score distribution,
// crossings, the bridge's decisions with notes from its configuration, with
// company models the top companies and account enrollments, and the top of
// the W-shaped attribution.
func Summary(ctx context.Context, o SummaryOptions, w io.Writer) error {
	total, ids, err := CountEvents(o.Events)
	if err != nil {
		return err
	}
	sm, err := Scrape(ctx, o.ScorerURL)
	if err != nil {
		return err
	}
	bm, err := Scrape(ctx, o.BridgeURL)
	if err != nil {
		return err
	}

	fromHubSpot := ""
	if o.IngestURL != "" {
		im, err := Scrape(ctx, o.IngestURL)
		if err != nil {
			return err
		}
		fromHubSpot = fmt.Sprintf(" + %.0f from HubSpot (bridge ingest)", im.Sum("bridge_ingest_produced_total"))
	}
	fmt.Fprintf(w, "Events: %d produced%s, %.0f scored, %.0f duplicates ignored, %.0f dead-lettered\n",
		total, fromHubSpot, sm.Sum("scorer_events_total", "outcome", "scored"), sm.Sum("scorer_events_total", "outcome", "duplicate"),
		sm.Sum("scorer_events_total", "outcome", "dead_letter"))

	// Scores, from the live service's score endpoint.
	scores, err := LiveScores(ctx, o.ScorerURL, ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Contacts scored: %d (live scores from %s/contacts/{id}/score)\n\n", len(ids), o.ScorerURL)
	WriteDistribution(w, scores)

	fmt.Fprintln(w, "\nCrossings by model and threshold (scorer_crossings_total):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  model\tthreshold\tcrossings")
	for _, s := range sm.Samples("scorer_crossings_total") {
		th := s.Labels["threshold"]
		if th == "" || th == "default" {
			th = "(the model's one threshold)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.0f\n", s.Labels["model"], th, s.Value)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nEnrollment decisions, the latest per crossing (ClickHouse %s.decisions; %.0f HubSpot calls):\n",
		o.Store.Database(), bm.Sum("bridge_api_calls_total"))
	rep, err := o.Store.DecisionSummary(ctx)
	if err != nil {
		return err
	}
	if err := analytics.Write(&LinesWriter{W: w, Max: len(rep.Rows) + 1, Prefix: "  "}, "table", rep); err != nil {
		return err
	}
	WriteNotes(w, Notes(o.Bridge), rep.Outcomes())
	if err := Companies(ctx, o.Store, o.ScorerURL, o.Events, w); err != nil {
		return err
	}
	if o.ExampleOut != "" {
		if rep.ExampleEnrolled == "" {
			return fmt.Errorf("an enrolled contact: no contact is enrolled in a sequence")
		}
		if err := os.WriteFile(o.ExampleOut, []byte(rep.ExampleEnrolled+"\n"), 0o644); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nAttribution of %s conversions (W-shaped, by channel; top rows of `scorer report attribution --model w --by channel`):\n", analytics.DefaultConversion)
	lw := &LinesWriter{W: w, Max: 12, Prefix: "  "}
	if err := analytics.RunReport(ctx, o.Store, []string{"attribution", "--model", "w", "--by", "channel"}, lw); err != nil {
		return err
	}
	if lw.Dropped > 0 {
		fmt.Fprintf(w, "  ... %d more lines\n", lw.Dropped)
	}
	return nil
}
