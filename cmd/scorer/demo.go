package main

// `scorer demo-report` is scripts/demo.sh's helper: it resets the demo's
// ClickHouse database, follows both services' /metrics while the history
// streams, and prints the closing report. It reads only what the services
// expose (HTTP and ClickHouse), so the demo shows what an operator sees.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/scorebridge/scorebridge/analytics"
)

func init() {
	register("demo-report", "scripts/demo.sh's helper: reset, watch (progress line) and summary (the closing report)", demoCmd)
}

func demoCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: reset, sandbox, watch or summary")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flags("demo-report "+args[0], stderr)
	ch := fs.String("clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN of the demo's database")
	scorerURL := fs.String("scorer", "http://127.0.0.1:8080", "scorer run's HTTP base URL")
	bridgeURL := fs.String("bridge", "http://127.0.0.1:8081", "bridge run's HTTP base URL")
	events := fs.String("events", "", "the JSONL history the demo produced")
	timeout := fs.Duration("timeout", 5*time.Minute, "watch: give up after this long")
	config := fs.String("config", "testdata/demo/sandbox.yaml", "sandbox: the sandbox configuration without contacts")
	example := fs.String("example-out", "", "summary: write the id of a contact enrolled in a sequence to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "reset":
		return demoReset(ctx, *ch, stdout)
	case "watch":
		n, _, err := countEvents(*events)
		if err != nil {
			return err
		}
		return demoWatch(ctx, *scorerURL, *bridgeURL, n, *timeout, stdout)
	case "sandbox":
		return demoSandbox(*config, *events, stdout)
	case "summary":
		return demoSummary(ctx, *ch, *scorerURL, *bridgeURL, *events, *example, stdout)
	}
	return fmt.Errorf("unknown subcommand %q: want reset, sandbox, watch or summary", args[0])
}

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

// demoSandbox writes the sandbox configuration with the history's contacts
// and their emails, as a portal holding those contacts would have them:
// workflows enroll by email.
func demoSandbox(config, events string, w io.Writer) error {
	base, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(base), "\n") {
		if strings.HasPrefix(l, "contacts:") {
			return fmt.Errorf("%s already has contacts", config)
		}
	}
	f, err := os.Open(events)
	if err != nil {
		return err
	}
	defer f.Close()
	emails := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var e struct {
			ContactID string         `json:"contact_id"`
			Contact   map[string]any `json:"contact"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ContactID == "" || emails[e.ContactID] != "" {
			continue
		}
		if email, ok := e.Contact["email"].(string); ok && email != "" {
			emails[e.ContactID] = email
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	ids := make([]string, 0, len(emails))
	for id := range emails {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	bw.Write(base)
	fmt.Fprintf(bw, "\n# Added by scorer demo-report sandbox from %s.\ncontacts:\n", events)
	for _, id := range ids {
		fmt.Fprintf(bw, "  - {id: %q, email: %q}\n", id, emails[id])
	}
	return bw.Flush()
}

// metrics is one scrape: series name -> label string -> value.
type metrics map[string]map[string]float64

func scrape(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", url, resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], strings.Trim(name[i:], "{}")
		}
		if m[name] == nil {
			m[name] = map[string]float64{}
		}
		m[name][labels] = v
	}
	return m, sc.Err()
}

// sum adds the series of name whose labels contain every filter
// (`key="value"`).
func (m metrics) sum(name string, filters ...string) float64 {
	t := 0.0
	for labels, v := range m[name] {
		ok := true
		for _, f := range filters {
			ok = ok && strings.Contains(labels, f)
		}
		if ok {
			t += v
		}
	}
	return t
}

// label returns the value of key in a label string.
func label(labels, key string) string {
	i := strings.Index(labels, key+`="`)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(key)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return rest
}

// countEvents counts the lines of the history and collects its contact ids.
func countEvents(path string) (int, []string, error) {
	if path == "" {
		return 0, nil, errors.New("--events is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var ids []string
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		n++
		var e struct {
			ContactID string `json:"contact_id"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.ContactID != "" && !seen[e.ContactID] {
			seen[e.ContactID] = true
			ids = append(ids, e.ContactID)
		}
	}
	sort.Strings(ids)
	return n, ids, sc.Err()
}

// demoWatch prints one updating progress line a second until the scorer
// has read every event, the bridge has decided every crossing and the
// audit outbox is empty.
func demoWatch(ctx context.Context, scorerURL, bridgeURL string, total int, timeout time.Duration, w io.Writer) error {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	tty := isTerminal(w)
	last, stable := "", 0
	for {
		s, err1 := scrape(ctx, scorerURL)
		b, err2 := scrape(ctx, bridgeURL)
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintln(w)
			return fmt.Errorf("reading metrics: %w", err)
		}
		read := s.sum("scorer_events_total")
		crossings := s.sum("scorer_crossings_total")
		decided := b.sum("bridge_crossings_total")
		line := fmt.Sprintf("[%3.0fs] events %6.0f/%d (scored %.0f, dup %.0f, dlq %.0f)  lag %.0f | crossings %.0f | bridge read %.0f, enrolled %.0f, held %.0f, lag %.0f, audit queue %.0f",
			time.Since(start).Seconds(), read, total, s.sum("scorer_events_total", `outcome="scored"`),
			s.sum("scorer_events_total", `outcome="duplicate"`), s.sum("scorer_events_total", `outcome="dead_letter"`),
			s.sum("scorer_consumer_lag"), crossings, decided, b.sum("bridge_decisions_total", `kind="enrolled"`),
			b.sum("bridge_held_crossings"), b.sum("bridge_consumer_lag"), b.sum("bridge_outbox_decisions"))
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
		} else if time.Since(start) < 2*time.Second || int(time.Since(start).Seconds())%5 == 0 {
			fmt.Fprintln(w, line)
		}
		done := read >= float64(total) && decided >= crossings && b.sum("bridge_consumer_lag") == 0 && b.sum("bridge_outbox_decisions") == 0
		// Two equal scrapes in a row: nothing is still in flight.
		key := fmt.Sprint(read, crossings, decided)
		if done && key == last {
			stable++
		} else {
			stable = 0
		}
		last = key
		if stable >= 1 {
			if tty {
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, line)
			}
			return nil
		}
		if time.Since(start) > timeout {
			fmt.Fprintln(w)
			return fmt.Errorf("not done after %s: events read %.0f of %d, crossings decided %.0f of %.0f", timeout, read, total, decided, crossings)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// demoSummary prints the closing report.
func demoSummary(ctx context.Context, dsn, scorerURL, bridgeURL, events, exampleOut string, w io.Writer) error {
	total, ids, err := countEvents(events)
	if err != nil {
		return err
	}
	sm, err := scrape(ctx, scorerURL)
	if err != nil {
		return err
	}
	bm, err := scrape(ctx, bridgeURL)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "Events: %d produced, %.0f scored, %.0f duplicates ignored, %.0f dead-lettered\n",
		total, sm.sum("scorer_events_total", `outcome="scored"`), sm.sum("scorer_events_total", `outcome="duplicate"`),
		sm.sum("scorer_events_total", `outcome="dead_letter"`))

	// Scores, from the live service's score endpoint.
	scores, err := liveScores(ctx, scorerURL, ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Contacts scored: %d (live scores from %s/contacts/{id}/score)\n\n", len(ids), scorerURL)
	printDistribution(w, scores)

	fmt.Fprintln(w, "\nCrossings by model and threshold (scorer_crossings_total):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  model\tthreshold\tcrossings")
	var keys []string
	for labels := range sm["scorer_crossings_total"] {
		keys = append(keys, labels)
	}
	sort.Strings(keys)
	for _, k := range keys {
		th := label(k, "threshold")
		if th == "" || th == "default" {
			th = "(the model's one threshold)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.0f\n", label(k, "model"), th, sm["scorer_crossings_total"][k])
	}
	tw.Flush()

	conn, err := demoConn(dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintf(w, "\nEnrollment decisions, the latest per crossing (ClickHouse %s.decisions; %.0f HubSpot calls):\n",
		dbName(dsn), bm.sum("bridge_api_calls_total"))
	seen, err := printDecisions(ctx, conn, w)
	if err != nil {
		return err
	}
	for _, n := range []struct{ prefix, text string }{
		{"held:business_hours", "held:business_hours: the contact's local time is outside 07:00-22:00; released at the next opening"},
		{"held:quota", "held:quota: the owner's 80 enrollments (or inbox sends) of the last 24 h are used; released highest score first"},
		{"already_enrolled", "already_enrolled: the contact is in a sequence already; never stacked"},
		{"excluded:conflicting_sequence", "excluded:conflicting_sequence: no nurture workflow for a contact in a sales sequence of the same theme"},
		{"suppressed", "suppressed: customers, partners and competitor domains are never enrolled"},
		{"no_route", "no_route: no route matches (e.g. an engagement crossing of an opportunity)"},
	} {
		for o := range seen {
			if strings.HasPrefix(o, n.prefix) {
				fmt.Fprintln(w, "  "+n.text)
				break
			}
		}
	}
	if err := demoCompanies(ctx, conn, scorerURL, w); err != nil {
		return err
	}
	if exampleOut != "" {
		id, err := enrolledContact(ctx, conn)
		if err != nil {
			return err
		}
		if err := os.WriteFile(exampleOut, []byte(id+"\n"), 0o644); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nAttribution of %s conversions (W-shaped, by channel; top rows of `scorer report attribution --model w --by channel`):\n", analytics.DefaultConversion)
	store, err := analytics.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	lw := &linesWriter{w: w, max: 12, prefix: "  "}
	if err := analytics.RunReport(ctx, store, []string{"attribution", "--model", "w", "--by", "channel"}, lw); err != nil {
		return err
	}
	if lw.dropped > 0 {
		fmt.Fprintf(w, "  ... %d more lines\n", lw.dropped)
	}
	return nil
}

func dbName(dsn string) string {
	o, err := clickhouse.ParseDSN(dsn)
	if err != nil || o.Auth.Database == "" {
		return "default"
	}
	return o.Auth.Database
}

func demoConn(dsn string) (clickhouse.Conn, error) {
	o, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return clickhouse.Open(o)
}

// liveScores asks the scorer for every contact's scores, a few at a time:
// model -> scores.
func liveScores(ctx context.Context, base string, ids []string) (map[string][]float64, error) {
	type line struct {
		Model string  `json:"model"`
		Score float64 `json:"score"`
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	results := make([][]line, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/contacts/"+ids[i]+"/score", nil)
				if err != nil {
					errs[i] = err
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					errs[i] = err
					continue
				}
				err = json.NewDecoder(resp.Body).Decode(&results[i])
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil {
					errs[i] = fmt.Errorf("score of %s: %s %v", ids[i], resp.Status, err)
				}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := map[string][]float64{}
	for _, ls := range results {
		for _, l := range ls {
			out[l.Model] = append(out[l.Model], l.Score)
		}
	}
	return out, nil
}

var scoreBuckets = []float64{0, 10, 20, 30, 40, 60, 80}

func printDistribution(w io.Writer, scores map[string][]float64) {
	models := make([]string, 0, len(scores))
	for m := range scores {
		models = append(models, m)
	}
	sort.Strings(models)
	fmt.Fprintln(w, "Score distribution (contacts per bucket):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	head := "  score\t"
	for _, m := range models {
		head += m + "\t"
	}
	fmt.Fprintln(tw, head)
	for i, lo := range scoreBuckets {
		name := fmt.Sprintf("%g+", lo)
		hi := math.Inf(1)
		if i+1 < len(scoreBuckets) {
			hi = scoreBuckets[i+1]
			name = fmt.Sprintf("%g-%g", lo, hi)
		}
		if lo == 0 {
			name = "<10"
			lo = math.Inf(-1)
		}
		row := "  " + name + "\t"
		for _, m := range models {
			n := 0
			for _, s := range scores[m] {
				if s >= lo && s < hi {
					n++
				}
			}
			row += strconv.Itoa(n) + "\t"
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}

// enrolledContact picks a contact the bridge enrolled in a sequence, for
// the explore commands.
func enrolledContact(ctx context.Context, conn clickhouse.Conn) (string, error) {
	var id string
	row := conn.QueryRow(ctx, `SELECT contact_id FROM decisions
WHERE outcome = 'enrolled' AND target_kind = 'sequence' ORDER BY contact_id LIMIT 1`)
	if err := row.Scan(&id); err != nil {
		return "", fmt.Errorf("an enrolled contact: %w", err)
	}
	return id, nil
}

// printDecisions prints the latest decision of each crossing by outcome and
// returns the outcomes seen.
func printDecisions(ctx context.Context, conn clickhouse.Conn, w io.Writer) (map[string]bool, error) {
	// The latest decision of each crossing: a held one may since have been
	// enrolled. Audit rows repeat (at-least-once), hence the arg-max.
	rows, err := conn.Query(ctx, `SELECT d_outcome, d_reason, d_kind, count() AS n FROM (
    SELECT crossing_id,
        argMax(outcome, decided_us) AS d_outcome,
        argMax(reason, decided_us) AS d_reason,
        argMax(target_kind, decided_us) AS d_kind
    FROM decisions
    WHERE outcome != 'workflow_unenrolled' AND NOT (outcome = 'failed' AND reason = 'unenroll')
    GROUP BY crossing_id)
GROUP BY d_outcome, d_reason, d_kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// HubSpot's refusals carry its message (one per contact): group them.
	type key struct{ outcome, kind string }
	counts := map[key]uint64{}
	examples := map[key]string{}
	for rows.Next() {
		var outcome, reason, kind string
		var n uint64
		if err := rows.Scan(&outcome, &reason, &kind, &n); err != nil {
			return nil, err
		}
		k := key{outcome, kind}
		switch {
		case strings.ContainsRune(reason, ' '):
			k.outcome += ":remote"
			examples[k] = reason
		case reason != "":
			k.outcome += ":" + reason
		}
		counts[k] += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i].outcome+keys[i].kind < keys[j].outcome+keys[j].kind
	})
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  outcome\ttarget\tcrossings\t")
	for _, k := range keys {
		kind := k.kind
		if kind == "" {
			kind = "-"
		}
		ex := ""
		if e := examples[k]; e != "" {
			ex = "e.g. " + e
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", k.outcome, kind, counts[k], ex)
	}
	seen := map[string]bool{}
	for k := range counts {
		seen[k.outcome] = true
	}
	return seen, tw.Flush()
}

// linesWriter passes the first max lines through, indented, and counts the rest.
type linesWriter struct {
	w       io.Writer
	max     int
	prefix  string
	n       int
	dropped int
	partial []byte
}

func (l *linesWriter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := strings.IndexByte(string(l.partial), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.partial[:i+1]
		if l.n < l.max {
			fmt.Fprint(l.w, l.prefix+string(line))
		} else {
			l.dropped++
		}
		l.n++
		l.partial = l.partial[i+1:]
	}
}
