package sandbox

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Config is the sandbox's YAML file. Unknown keys are errors.
type Config struct {
	// Token is the bearer token the sandbox accepts. Required.
	Token    string `yaml:"token"`
	PortalID int64  `yaml:"portal_id"`
	// RateLimit is HubSpot's per-app request limit.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// ContactsAuto accepts any contact id; its email is ContactEmailTemplate
	// with {id} replaced. Listed contacts keep their own email.
	ContactsAuto         bool            `yaml:"contacts_auto"`
	ContactEmailTemplate string          `yaml:"contact_email_template"`
	Contacts             []ContactConfig `yaml:"contacts"`
	// CompaniesAuto accepts any company id (for CRM company updates);
	// without it only the listed Companies exist.
	CompaniesAuto bool             `yaml:"companies_auto"`
	Companies     []CompanyConfig  `yaml:"companies"`
	Senders       []SenderConfig   `yaml:"senders"`
	Sequences     []SequenceConfig `yaml:"sequences"`
	Workflows     []WorkflowConfig `yaml:"workflows"`
	Faults        Faults           `yaml:"faults"`
	// Webhooks is where the sandbox sends signed webhooks for its own
	// contact changes (the admin API's POST /_sandbox/webhooks sets it too).
	Webhooks WebhooksConfig `yaml:"webhooks"`
}

// WebhooksConfig is the sandbox's webhook target. The secret signing the
// requests (the app's client secret) comes from SecretFile, else from
// the environment variable HUBSPOT_CLIENT_SECRET: never from the file
// itself, never logged.
type WebhooksConfig struct {
	URL        string `yaml:"url"`
	SecretFile string `yaml:"secret_file"`
}

// RateLimitConfig mirrors X-HubSpot-RateLimit-*.
type RateLimitConfig struct {
	Max      int           `yaml:"max"`      // requests per interval, default 190
	Interval time.Duration `yaml:"interval"` // default 10s
	Daily    int           `yaml:"daily"`    // requests per day, default 1,000,000
	// Secondly is reported in X-HubSpot-RateLimit-Secondly (default
	// max/interval rounded up); the sandbox does not enforce it.
	Secondly int `yaml:"secondly"`
}

func (rl RateLimitConfig) secondly() int {
	if rl.Secondly > 0 {
		return rl.Secondly
	}
	if rl.Interval <= 0 {
		return rl.Max
	}
	return int(math.Ceil(float64(rl.Max) / rl.Interval.Seconds()))
}

// CompanyConfig is a known company: its id and the name and domain the
// CRM API answers for it.
type CompanyConfig struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Domain string `yaml:"domain"`
}

// ContactConfig is a known contact.
type ContactConfig struct {
	ID    string `yaml:"id"`
	Email string `yaml:"email"`
}

// SenderConfig is a HubSpot user with (or without) a connected inbox.
type SenderConfig struct {
	UserID  string `yaml:"user_id"`
	Email   string `yaml:"email"`
	OwnerID string `yaml:"owner_id"`
	Name    string `yaml:"name"`
	// InboxConnected defaults to true; false reproduces "User X has no
	// connected inboxes for specified user email".
	InboxConnected *bool `yaml:"inbox_connected"`
	// DailySendCap is the inbox's cap over a rolling 24 h (default 1000).
	DailySendCap int `yaml:"daily_send_cap"`
}

// SequenceConfig is a sequence and its steps.
type SequenceConfig struct {
	ID       string         `yaml:"id"`
	Name     string         `yaml:"name"`
	UserID   string         `yaml:"user_id"`
	FolderID string         `yaml:"folder_id"`
	Settings SettingsConfig `yaml:"settings"`
	Steps    []StepConfig   `yaml:"steps"`
}

// SettingsConfig are the sequence settings HubSpot returns.
type SettingsConfig struct {
	EligibleFollowUpDays  string `yaml:"eligible_follow_up_days"`  // BUSINESS_DAYS (default), EVERYDAY, WEEKDAYS_ONLY
	SendWindowStartMinute *int   `yaml:"send_window_start_minute"` // default 480 (08:00)
	SendWindowEndMinute   *int   `yaml:"send_window_end_minute"`   // default 1080 (18:00)
	SellingStrategy       string `yaml:"selling_strategy"`         // LEAD_BASED (default) or ACCOUNT_BASED
}

// StepConfig is one step. Delay (a Go duration) or DelayDays gives the wait
// after the previous step.
type StepConfig struct {
	Action    string        `yaml:"action"`    // EMAIL, TASK, FINISH_ENROLLMENT
	TaskType  string        `yaml:"task_type"` // for TASK: CALL, EMAIL, LINKED_IN_CONNECT, ...
	Subject   string        `yaml:"subject"`
	Delay     time.Duration `yaml:"delay"`
	DelayDays int           `yaml:"delay_days"`
}

// WorkflowConfig is a v2 workflow contacts can be enrolled in by email.
type WorkflowConfig struct {
	ID      int64  `yaml:"id"`
	Name    string `yaml:"name"`
	Type    string `yaml:"type"` // DRIP_DELAY (default)
	Enabled *bool  `yaml:"enabled"`
}

// Faults are injected failures. They can be set in the file and changed at
// run time through POST /_sandbox/faults.
type Faults struct {
	// ErrorRate is the share of API requests answered 5xx before any
	// processing, drawn from a generator seeded with Seed.
	ErrorRate float64 `yaml:"error_rate" json:"error_rate"`
	Seed      uint64  `yaml:"seed" json:"seed"`
	// FailNext answers the next N API requests with 503.
	FailNext int `yaml:"fail_next" json:"fail_next"`
	// Latency is added to every API request.
	Latency time.Duration `yaml:"latency" json:"latency"`
	// DropAfterEnrollRate is the share of accepted enrollments whose
	// connection is closed instead of answered: stored, never acknowledged.
	DropAfterEnrollRate float64 `yaml:"drop_after_enroll_rate" json:"drop_after_enroll_rate"`
	// DropAfterEnrollNext drops the next N accepted enrollments.
	DropAfterEnrollNext int `yaml:"drop_after_enroll_next" json:"drop_after_enroll_next"`
	// ErrorAfterEnrollNext answers the next N accepted enrollments with 502
	// although they were stored.
	ErrorAfterEnrollNext int `yaml:"error_after_enroll_next" json:"error_after_enroll_next"`
	// AnswerDelay holds the answer of every stored enrollment this long (a
	// slow way back): a client that dies meanwhile has enrolled the contact
	// without seeing the answer (recorded as not answered).
	AnswerDelay time.Duration `yaml:"answer_delay" json:"answer_delay"`
}

// LoadConfig reads and validates a sandbox YAML file, reporting every
// problem at once, each at its file:line where it has one.
func LoadConfig(path string) (*Config, error) {
	b, err := dialect.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox config: %w", err)
	}
	return parseConfig(path, b)
}

// ParseConfig decodes and validates a sandbox YAML document.
func ParseConfig(b []byte) (*Config, error) { return parseConfig("sandbox config", b) }

// parseConfig reads the sandbox's YAML as the bridge configuration and
// rule files are read (internal/dialect): unknown and duplicate keys,
// values of the wrong type and durations not in the dialect (7d, 1w,
// 500ms) are problems at their lines, the checks of Validate problems of
// the file, all of them in one error.
func parseConfig(name string, b []byte) (*Config, error) {
	var cfg Config
	root, probs := dialect.Document(b, false)
	if root != nil {
		probs = append(probs, dialect.Decode(root, &cfg)...)
		cfg.applyDefaults()
		if err := cfg.Validate(); err != nil {
			for _, msg := range strings.Split(err.Error(), "\n") {
				probs = append(probs, dialect.Problem{Msg: msg})
			}
		}
	}
	if len(probs) == 0 {
		return &cfg, nil
	}
	for i := range probs {
		probs[i].File = name
	}
	return nil, dialect.Problems(probs)
}

func (c *Config) applyDefaults() {
	if c.RateLimit.Max == 0 {
		c.RateLimit.Max = 190
	}
	if c.RateLimit.Interval == 0 {
		c.RateLimit.Interval = 10 * time.Second
	}
	if c.RateLimit.Daily == 0 {
		c.RateLimit.Daily = 1_000_000
	}
	if c.ContactEmailTemplate == "" {
		c.ContactEmailTemplate = "contact-{id}@example.net"
	}
	if c.PortalID == 0 {
		c.PortalID = 62515
	}
	for i := range c.Senders {
		s := &c.Senders[i]
		if s.DailySendCap == 0 {
			s.DailySendCap = 1000
		}
		if s.InboxConnected == nil {
			t := true
			s.InboxConnected = &t
		}
	}
	for i := range c.Sequences {
		st := &c.Sequences[i].Settings
		if st.EligibleFollowUpDays == "" {
			st.EligibleFollowUpDays = "BUSINESS_DAYS"
		}
		if st.SellingStrategy == "" {
			st.SellingStrategy = "LEAD_BASED"
		}
		if st.SendWindowStartMinute == nil {
			v := 8 * 60
			st.SendWindowStartMinute = &v
		}
		if st.SendWindowEndMinute == nil {
			v := 18 * 60
			st.SendWindowEndMinute = &v
		}
		for j := range c.Sequences[i].Steps {
			s := &c.Sequences[i].Steps[j]
			s.Action = strings.ToUpper(s.Action)
			s.TaskType = strings.ToUpper(s.TaskType)
		}
	}
	for i := range c.Workflows {
		w := &c.Workflows[i]
		if w.Type == "" {
			w.Type = "DRIP_DELAY"
		}
		if w.Enabled == nil {
			t := true
			w.Enabled = &t
		}
	}
}

// Validate reports every problem of the configuration, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Token == "" {
		bad("token: required")
	}
	if c.RateLimit.Max < 0 || c.RateLimit.Interval < 0 || c.RateLimit.Daily < 0 || c.RateLimit.Secondly < 0 {
		bad("rate_limit: values must be positive")
	}
	if !strings.Contains(c.ContactEmailTemplate, "{id}") {
		bad("contact_email_template: %q must contain {id}", c.ContactEmailTemplate)
	}
	if u := c.Webhooks.URL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" {
			bad("webhooks.url: %q is not an http(s) URL", u)
		}
	} else if c.Webhooks.SecretFile != "" {
		bad("webhooks.secret_file without webhooks.url")
	}
	companies := map[string]bool{}
	for i, co := range c.Companies {
		switch {
		case co.ID == "" || strings.ContainsAny(co.ID, "/ "):
			bad("companies[%d]: id %q: required, without / or spaces", i, co.ID)
		case companies[co.ID]:
			bad("companies[%d]: duplicate id %q", i, co.ID)
		}
		companies[co.ID] = true
	}
	ids, emails := map[string]bool{}, map[string]bool{}
	for i, ct := range c.Contacts {
		switch {
		case ct.ID == "":
			bad("contacts[%d]: id required", i)
		case ids[ct.ID]:
			bad("contacts[%d]: duplicate id %q", i, ct.ID)
		}
		ids[ct.ID] = true
		if _, err := mail.ParseAddress(ct.Email); err != nil {
			bad("contacts[%d] (%s): email %q: %v", i, ct.ID, ct.Email, err)
		} else if emails[strings.ToLower(ct.Email)] {
			bad("contacts[%d] (%s): duplicate email %q", i, ct.ID, ct.Email)
		}
		emails[strings.ToLower(ct.Email)] = true
	}
	users := map[string]bool{}
	senderEmails := map[string]bool{}
	for i, s := range c.Senders {
		switch {
		case s.UserID == "":
			bad("senders[%d]: user_id required", i)
		case users[s.UserID]:
			bad("senders[%d]: duplicate user_id %q", i, s.UserID)
		}
		users[s.UserID] = true
		if _, err := mail.ParseAddress(s.Email); err != nil {
			bad("senders[%d] (%s): email %q: %v", i, s.UserID, s.Email, err)
		} else if senderEmails[strings.ToLower(s.Email)] {
			bad("senders[%d] (%s): duplicate email %q", i, s.UserID, s.Email)
		}
		senderEmails[strings.ToLower(s.Email)] = true
		if s.DailySendCap < 0 {
			bad("senders[%d] (%s): daily_send_cap must be positive", i, s.UserID)
		}
	}
	seqs := map[string]bool{}
	for i, q := range c.Sequences {
		where := fmt.Sprintf("sequences[%d] (%s)", i, q.ID)
		switch {
		case q.ID == "":
			bad("sequences[%d]: id required", i)
		case seqs[q.ID]:
			bad("%s: duplicate id", where)
		}
		seqs[q.ID] = true
		if q.Name == "" {
			bad("%s: name required", where)
		}
		if q.UserID != "" && !users[q.UserID] {
			bad("%s: user_id %q is not a sender", where, q.UserID)
		}
		if len(q.Steps) == 0 {
			bad("%s: at least one step required", where)
		}
		emailsInSeq := 0
		for j, st := range q.Steps {
			switch st.Action {
			case hubspot.ActionEmail:
				emailsInSeq++
			case hubspot.ActionTask:
				if !oneOf(st.TaskType, "CALL", "EMAIL", "LINKED_IN_CONNECT", "LINKED_IN_MESSAGE", "MEETING", "TODO") {
					bad("%s: steps[%d]: task_type %q: want CALL, EMAIL, LINKED_IN_CONNECT, LINKED_IN_MESSAGE, MEETING or TODO", where, j, st.TaskType)
				}
			case hubspot.ActionFinishEnrollment:
			default:
				bad("%s: steps[%d]: action %q: want EMAIL, TASK or FINISH_ENROLLMENT", where, j, st.Action)
			}
			if st.Delay < 0 || st.DelayDays < 0 {
				bad("%s: steps[%d]: negative delay", where, j)
			}
			if st.Delay != 0 && st.DelayDays != 0 {
				bad("%s: steps[%d]: set delay or delay_days, not both", where, j)
			}
		}
		if emailsInSeq > 10 {
			bad("%s: %d email steps; HubSpot allows at most 10", where, emailsInSeq)
		}
		s := q.Settings
		if !oneOf(s.EligibleFollowUpDays, "BUSINESS_DAYS", "EVERYDAY", "WEEKDAYS_ONLY") {
			bad("%s: settings.eligible_follow_up_days %q: want BUSINESS_DAYS, EVERYDAY or WEEKDAYS_ONLY", where, s.EligibleFollowUpDays)
		}
		if !oneOf(s.SellingStrategy, "LEAD_BASED", "ACCOUNT_BASED") {
			bad("%s: settings.selling_strategy %q: want LEAD_BASED or ACCOUNT_BASED", where, s.SellingStrategy)
		}
		if *s.SendWindowStartMinute < 0 || *s.SendWindowEndMinute > 1440 || *s.SendWindowStartMinute >= *s.SendWindowEndMinute {
			bad("%s: settings: send window %d..%d minutes is not inside one day", where, *s.SendWindowStartMinute, *s.SendWindowEndMinute)
		}
	}
	wfs := map[int64]bool{}
	for i, w := range c.Workflows {
		switch {
		case w.ID <= 0:
			bad("workflows[%d]: id must be a positive number", i)
		case wfs[w.ID]:
			bad("workflows[%d]: duplicate id %d", i, w.ID)
		}
		wfs[w.ID] = true
		if w.Name == "" {
			bad("workflows[%d] (%d): name required", i, w.ID)
		}
	}
	errs = append(errs, c.Faults.validate()...)
	return errors.Join(errs...)
}

func (f Faults) validate() []error {
	var errs []error
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		errs = append(errs, fmt.Errorf("faults.error_rate %v: want 0..1", f.ErrorRate))
	}
	if f.DropAfterEnrollRate < 0 || f.DropAfterEnrollRate > 1 {
		errs = append(errs, fmt.Errorf("faults.drop_after_enroll_rate %v: want 0..1", f.DropAfterEnrollRate))
	}
	if f.Latency < 0 || f.AnswerDelay < 0 || f.FailNext < 0 || f.DropAfterEnrollNext < 0 || f.ErrorAfterEnrollNext < 0 {
		errs = append(errs, errors.New("faults: latency and counts must not be negative"))
	}
	return errs
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

// stepDelay is the step's wait after the previous step.
func (s StepConfig) stepDelay() time.Duration {
	if s.DelayDays > 0 {
		return time.Duration(s.DelayDays) * 24 * time.Hour
	}
	return s.Delay
}
