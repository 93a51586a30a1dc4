package enrollment

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/events"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/writeback"
	"gopkg.in/yaml.v3"
)

// Sink names accepted in the configuration.
const (
	SinkHubSpot = "hubspot"
	SinkWebhook = "webhook"
	SinkDryRun  = "dry-run"
)

// Defaults applied at load.
const (
	DefaultDailyEnrollments = 80
	DefaultDailySends       = 500
	DefaultRequestsPer10s   = 190
	DefaultHubSpotBaseURL   = "https://api.hubapi.com"
	DefaultRetryHeldAfter   = time.Minute
)

// Config is the bridge configuration, validated at load.
type Config struct {
	Sink             string         `yaml:"sink"`
	HubSpot          HubSpotConfig  `yaml:"hubspot"`
	Webhook          WebhookConfig  `yaml:"webhook"`
	Senders          []SenderConfig `yaml:"senders"`
	Routes           []Route        `yaml:"routes"`
	Suppress         SuppressConfig `yaml:"suppress"`
	CompanyExclusive bool           `yaml:"company_exclusive"`
	BusinessHours    *BusinessHours `yaml:"business_hours"`
	Conflicts        []Conflict     `yaml:"conflicts"`
	Hold             HoldConfig     `yaml:"hold"`
	// Writeback, when present, keeps HubSpot contact properties equal to
	// the lead-scores topic (package writeback).
	Writeback *writeback.Config `yaml:"writeback"`

	// Path is the file the configuration was loaded from.
	Path string `yaml:"-"`

	sendersByOwner map[string]*SenderConfig
	conflicts      conflictIndex
}

// HubSpotConfig configures the hubspot sink. The token comes from
// HUBSPOT_TOKEN or TokenFile; it is never part of the configuration itself.
type HubSpotConfig struct {
	BaseURL        string `yaml:"base_url"`
	RequestsPer10s int    `yaml:"requests_per_10s"`
	TokenFile      string `yaml:"token_file"`
	// APIVersion is the Sequences API version: "2026-03" (default, HubSpot's
	// current dated version) or "v4" (legacy).
	APIVersion string `yaml:"api_version"`
}

// WebhookConfig configures the webhook sink. The HMAC secret comes from the
// environment variable SecretEnv or the file SecretFile (exactly one).
type WebhookConfig struct {
	URL        string `yaml:"url"`
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
}

// SenderConfig is a rep with a connected inbox; crossings find it through
// the contact's owner_id.
type SenderConfig struct {
	OwnerID          string `yaml:"owner_id"`
	UserID           string `yaml:"user_id"`
	Email            string `yaml:"email"`
	DailyEnrollments int    `yaml:"daily_enrollments"`
	DailySends       int    `yaml:"daily_sends"`
}

// Route sends matching crossings to one target: a sequence or a workflow.
type Route struct {
	Model      string   `yaml:"model"`
	Threshold  string   `yaml:"threshold"`
	When       string   `yaml:"when"`
	SequenceID string   `yaml:"sequence_id"`
	WorkflowID string   `yaml:"workflow_id"`
	Tags       []string `yaml:"tags"`
	// Level "company" matches company models' crossings (and enrolls a
	// member, see account.go); "" or "contact" matches contacts'.
	Level string `yaml:"level"`

	program *vm.Program
}

// Target is what the route enrolls the contact into.
func (r *Route) Target() Target {
	if r.WorkflowID != "" {
		return Target{Kind: TargetWorkflow, ID: r.WorkflowID}
	}
	return Target{Kind: TargetSequence, ID: r.SequenceID}
}

// SuppressConfig lists contacts that are never enrolled.
type SuppressConfig struct {
	LifecycleStages []string `yaml:"lifecycle_stages"`
	EmailDomains    []string `yaml:"email_domains"`
	ContactIDsFile  string   `yaml:"contact_ids_file"`
	CompanyIDs      []string `yaml:"company_ids"`
	CompanyIDsFile  string   `yaml:"company_ids_file"`

	lifecycle map[string]bool
	domains   map[string]bool
	contacts  map[string]bool
	companies map[string]bool
}

// BusinessHours is the local enrollment window of the recipient.
type BusinessHours struct {
	Start           string `yaml:"start"`
	End             string `yaml:"end"`
	WeekdaysOnly    bool   `yaml:"weekdays_only"`
	DefaultTimezone string `yaml:"default_timezone"`

	start, end int // minutes after local midnight
	defaultLoc *time.Location
}

// Conflict marks a workflow and a sequence as the same theme, so a contact
// is never in both. Routes sharing a tag conflict as well.
type Conflict struct {
	SequenceID string `yaml:"sequence_id"`
	WorkflowID string `yaml:"workflow_id"`
}

// HoldConfig bounds the held queue.
type HoldConfig struct {
	// MaxAge: a crossing held longer than this is given up as
	// failed:hold_expired (recorded, never silently dropped). Empty: never.
	// Durations are the dialect's (30d, 168h, 1w), as in rule files.
	MaxAge string `yaml:"max_age"`
	// RetryAfter: how long a crossing held because the sink was unavailable
	// waits before it is tried again (default 1m).
	RetryAfter string `yaml:"retry_after"`

	maxAge, retryAfter time.Duration
}

// Sender returns the sender for a HubSpot owner id.
func (c *Config) Sender(ownerID string) (*SenderConfig, bool) {
	s, ok := c.sendersByOwner[ownerID]
	return s, ok
}

// ConfigError is every problem found in a configuration file.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%d configuration problem(s):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// LoadConfig reads, validates and compiles a configuration file. All problems
// are reported at once, each as file:line: message.
func LoadConfig(path string) (*Config, error) {
	data, err := dialect.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig validates a configuration held in memory; path names it in
// messages and anchors relative file names. It reads YAML as rule files
// are read (internal/dialect): strictly, every problem at once.
func ParseConfig(path string, data []byte) (*Config, error) {
	v := &validator{file: path}
	root, probs := dialect.Document(data, true)
	v.add(probs)
	if root == nil {
		return nil, &ConfigError{Problems: v.problems}
	}
	cfg := &Config{Path: path}
	v.add(dialect.Decode(root, cfg))
	v.doc = root
	cfg.validate(v)
	if len(v.problems) > 0 {
		return nil, &ConfigError{Problems: v.problems}
	}
	return cfg, nil
}

type validator struct {
	file     string
	doc      *yaml.Node
	problems []string
}

func (v *validator) add(probs []dialect.Problem) {
	for _, p := range probs {
		p.File = v.file
		v.problems = append(v.problems, p.String())
	}
}

// at reports a problem at the node addressed by path (map keys and slice
// indexes); it falls back to the nearest existing parent for the line.
func (v *validator) at(path []any, format string, args ...any) {
	line := v.line(path)
	where := pathString(path)
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	v.problems = append(v.problems, fmt.Sprintf("%s:%d: %s", v.file, line, msg))
}

func (v *validator) line(path []any) int {
	n := v.doc
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	for _, p := range path {
		if n == nil {
			break
		}
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		n = next
	}
	return line
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

func (c *Config) validate(v *validator) {
	switch c.Sink {
	case SinkHubSpot, SinkWebhook, SinkDryRun:
	case "":
		v.at(nil, "sink is required (hubspot, webhook or dry-run)")
	default:
		v.at([]any{"sink"}, "unknown sink %q (want hubspot, webhook or dry-run)", c.Sink)
	}
	c.validateHubSpot(v)
	if c.Writeback != nil {
		for _, p := range c.Writeback.Check() {
			v.at(append([]any{"writeback"}, p.Path...), "%s", p.Msg)
		}
		if c.Sink != SinkHubSpot && c.Sink != "" {
			v.at([]any{"writeback"}, "needs sink: hubspot (it writes contact properties through the HubSpot client)")
		}
	}
	c.validateWebhook(v)
	c.validateSenders(v)
	c.validateRoutes(v)
	c.validateSuppress(v)
	c.validateHours(v)
	c.validateConflicts(v)
	c.validateHold(v)
}

func (c *Config) validateHubSpot(v *validator) {
	h := &c.HubSpot
	if h.BaseURL == "" {
		h.BaseURL = DefaultHubSpotBaseURL
	}
	if u, err := url.Parse(h.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.at([]any{"hubspot", "base_url"}, "base_url %q is not an http(s) URL", h.BaseURL)
	}
	switch {
	case h.RequestsPer10s == 0:
		h.RequestsPer10s = DefaultRequestsPer10s
	case h.RequestsPer10s < 0:
		v.at([]any{"hubspot", "requests_per_10s"}, "requests_per_10s must be positive, got %d", h.RequestsPer10s)
	}
	if h.TokenFile != "" {
		h.TokenFile = c.resolve(h.TokenFile)
	}
	switch h.APIVersion {
	case "":
		h.APIVersion = hubspot.APIVersions[0]
	case hubspot.APIVersion202603, hubspot.APIVersionV4:
	default:
		v.at([]any{"hubspot", "api_version"}, "api_version %q: want %q (current) or %q (legacy)", h.APIVersion, hubspot.APIVersion202603, hubspot.APIVersionV4)
	}
}

func (c *Config) validateWebhook(v *validator) {
	w := &c.Webhook
	if c.Sink != SinkWebhook && w.URL == "" {
		return
	}
	if w.URL == "" {
		v.at([]any{"webhook"}, "webhook.url is required with sink: webhook")
	} else if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.at([]any{"webhook", "url"}, "url %q is not an http(s) URL", w.URL)
	}
	if (w.SecretEnv == "") == (w.SecretFile == "") {
		v.at([]any{"webhook"}, "exactly one of secret_env and secret_file is required")
	}
	if w.SecretFile != "" {
		w.SecretFile = c.resolve(w.SecretFile)
	}
}

func (c *Config) validateSenders(v *validator) {
	c.sendersByOwner = make(map[string]*SenderConfig, len(c.Senders))
	for i := range c.Senders {
		s := &c.Senders[i]
		p := []any{"senders", i}
		if s.OwnerID == "" {
			v.at(p, "owner_id is required")
		} else if _, dup := c.sendersByOwner[s.OwnerID]; dup {
			v.at(append(p, "owner_id"), "owner_id %q appears twice", s.OwnerID)
		} else {
			c.sendersByOwner[s.OwnerID] = s
		}
		if c.Sink == SinkHubSpot && s.UserID == "" {
			v.at(p, "user_id is required with sink: hubspot")
		}
		if !strings.Contains(s.Email, "@") {
			v.at(append(p, "email"), "email %q is not an address", s.Email)
		}
		if s.DailyEnrollments == 0 {
			s.DailyEnrollments = DefaultDailyEnrollments
		} else if s.DailyEnrollments < 0 {
			v.at(append(p, "daily_enrollments"), "daily_enrollments must be positive")
		}
		if s.DailySends == 0 {
			s.DailySends = DefaultDailySends
		} else if s.DailySends < 0 {
			v.at(append(p, "daily_sends"), "daily_sends must be positive")
		}
	}
}

func (c *Config) validateRoutes(v *validator) {
	if len(c.Routes) == 0 {
		v.at(nil, "at least one route is required")
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := []any{"routes", i}
		if r.Model == "" {
			v.at(p, "model is required")
		}
		switch r.Level {
		case "", "contact":
			r.Level = ""
		case events.LevelCompany:
		default:
			v.at(append(p, "level"), "level must be contact or company, got %q", r.Level)
		}
		if (r.SequenceID == "") == (r.WorkflowID == "") {
			v.at(p, "exactly one of sequence_id and workflow_id is required")
		}
		if _, err := strconv.ParseInt(r.WorkflowID, 10, 64); r.WorkflowID != "" && c.Sink == SinkHubSpot && err != nil {
			v.at(append(p, "workflow_id"), "workflow_id %q: HubSpot workflow ids are numbers", r.WorkflowID)
		}
		if r.When == "" {
			continue
		}
		prog, err := compileWhen(r.When)
		if err != nil {
			v.at(append(p, "when"), "%s", dialect.OneLine(err))
			continue
		}
		r.program = prog
	}
}

// compileWhen compiles a route's condition under the expression policy of
// scoring rules (internal/dialect): the same disabled builtins, size,
// memory and string bounds, and a root that can give true or false.
func compileWhen(src string) (*vm.Program, error) {
	p, err := dialect.Compile(src, WhenEnv{}, expr.AsBool())
	if err != nil {
		return nil, err
	}
	if err := dialect.CheckCondition(src); err != nil {
		return nil, err
	}
	return p, nil
}

func (c *Config) validateSuppress(v *validator) {
	s := &c.Suppress
	s.lifecycle = setOf(s.LifecycleStages, strings.ToLower)
	s.domains = setOf(s.EmailDomains, func(d string) string { return strings.ToLower(strings.TrimPrefix(d, "@")) })
	s.companies = setOf(s.CompanyIDs, nil)
	s.contacts = map[string]bool{}
	if s.ContactIDsFile != "" {
		s.ContactIDsFile = c.resolve(s.ContactIDsFile)
		if err := readIDs(s.ContactIDsFile, s.contacts); err != nil {
			v.at([]any{"suppress", "contact_ids_file"}, "%v", err)
		}
	}
	if s.CompanyIDsFile != "" {
		s.CompanyIDsFile = c.resolve(s.CompanyIDsFile)
		if err := readIDs(s.CompanyIDsFile, s.companies); err != nil {
			v.at([]any{"suppress", "company_ids_file"}, "%v", err)
		}
	}
}

func setOf(xs []string, norm func(string) string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		if norm != nil {
			x = norm(x)
		}
		m[x] = true
	}
	return m
}

// readIDs reads one id per line; blank lines and # comments are skipped.
func readIDs(path string, into map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			into[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (c *Config) validateHours(v *validator) {
	h := c.BusinessHours
	if h == nil {
		return
	}
	var okStart, okEnd bool
	if h.start, okStart = parseClock(h.Start); !okStart {
		v.at([]any{"business_hours", "start"}, "start %q is not HH:MM", h.Start)
	}
	if h.end, okEnd = parseClock(h.End); !okEnd {
		v.at([]any{"business_hours", "end"}, "end %q is not HH:MM", h.End)
	}
	if okStart && okEnd && h.start >= h.end {
		v.at([]any{"business_hours"}, "start %s must be before end %s", h.Start, h.End)
	}
	if h.DefaultTimezone == "" {
		h.DefaultTimezone = "UTC"
	}
	loc, err := time.LoadLocation(h.DefaultTimezone)
	if err != nil {
		v.at([]any{"business_hours", "default_timezone"}, "unknown time zone %q", h.DefaultTimezone)
	}
	h.defaultLoc = loc
}

func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		// 24:00 closes a window at midnight.
		if s == "24:00" {
			return 24 * 60, true
		}
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (c *Config) validateConflicts(v *validator) {
	for i, cf := range c.Conflicts {
		if cf.SequenceID == "" || cf.WorkflowID == "" {
			v.at([]any{"conflicts", i}, "both sequence_id and workflow_id are required")
		}
	}
	c.conflicts = buildConflicts(c.Conflicts, c.Routes)
}

func (c *Config) validateHold(v *validator) {
	h := &c.Hold
	parse := func(key, s string, def time.Duration) time.Duration {
		if s == "" {
			return def
		}
		d, err := dialect.ParseDuration(s)
		if err != nil {
			v.at([]any{"hold", key}, "%v", err)
			return def
		}
		return d
	}
	h.maxAge = parse("max_age", h.MaxAge, 0)
	h.retryAfter = parse("retry_after", h.RetryAfter, DefaultRetryHeldAfter)
}

func (c *Config) resolve(p string) string {
	if filepath.IsAbs(p) || c.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// conflictIndex answers which workflows conflict with a sequence and back.
type conflictIndex struct {
	bySequence map[string][]string
	byWorkflow map[string][]string
}

func buildConflicts(pairs []Conflict, routes []Route) conflictIndex {
	seq := map[string]map[string]bool{}
	add := func(s, w string) {
		if s == "" || w == "" {
			return
		}
		if seq[s] == nil {
			seq[s] = map[string]bool{}
		}
		seq[s][w] = true
	}
	for _, p := range pairs {
		add(p.SequenceID, p.WorkflowID)
	}
	tagged := map[string]struct{ seqs, wfs map[string]bool }{}
	for _, r := range routes {
		for _, t := range r.Tags {
			e, ok := tagged[t]
			if !ok {
				e = struct{ seqs, wfs map[string]bool }{map[string]bool{}, map[string]bool{}}
				tagged[t] = e
			}
			if r.SequenceID != "" {
				e.seqs[r.SequenceID] = true
			}
			if r.WorkflowID != "" {
				e.wfs[r.WorkflowID] = true
			}
		}
	}
	for _, e := range tagged {
		for s := range e.seqs {
			for w := range e.wfs {
				add(s, w)
			}
		}
	}
	idx := conflictIndex{bySequence: map[string][]string{}, byWorkflow: map[string][]string{}}
	for s, ws := range seq {
		for w := range ws {
			idx.bySequence[s] = append(idx.bySequence[s], w)
			idx.byWorkflow[w] = append(idx.byWorkflow[w], s)
		}
	}
	for _, m := range []map[string][]string{idx.bySequence, idx.byWorkflow} {
		for k := range m {
			sort.Strings(m[k])
		}
	}
	return idx
}

// ConflictingWorkflows lists the workflows of the same theme as a sequence.
func (c *Config) ConflictingWorkflows(sequenceID string) []string {
	return c.conflicts.bySequence[sequenceID]
}

// ConflictingSequences lists the sequences of the same theme as a workflow.
func (c *Config) ConflictingSequences(workflowID string) []string {
	return c.conflicts.byWorkflow[workflowID]
}
