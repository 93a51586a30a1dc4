package writeback

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Defaults of the writeback section.
const (
	DefaultGroup         = "bridge-writeback"
	DefaultTopic         = "lead-scores"
	DefaultMinDelta      = 1.0
	DefaultFlushInterval = 5 * time.Second
	DefaultMaxBatch      = 100 // HubSpot's limit of inputs per batch call
	DefaultCompanyTopic  = "company-scores"
	DefaultCompanyGroup  = "bridge-writeback-companies"
	// PropertyGroup is the contact property group the properties live in.
	PropertyGroup = "scorebridge"
)

// Config is the bridge configuration's `writeback:` section.
type Config struct {
	Properties Properties `yaml:"properties"`
	// Models to write; empty: every model of the messages.
	Models []string `yaml:"models"`
	// MinDelta: a contact is written when a score moved by at least this
	// since the last write, or its threshold changed (nil: 1).
	MinDelta *float64 `yaml:"min_delta"`
	// FlushInterval: writes are coalesced, one per contact per interval.
	FlushInterval string `yaml:"flush_interval"`
	// MaxBatch contacts per batch call, at most 100.
	MaxBatch int    `yaml:"max_batch"`
	Topic    string `yaml:"topic"` // default lead-scores
	Group    string `yaml:"group"` // consumer group, default bridge-writeback
	// Companies, when present, also writes company scores (the
	// company-scores topic) to HubSpot company properties.
	Companies *CompanyConfig `yaml:"companies"`

	flush    time.Duration
	minDelta float64
}

// CompanyConfig is the `writeback.companies:` section: company models'
// scores into company properties. flush_interval and max_batch are the
// section's.
type CompanyConfig struct {
	Properties CompanyProperties `yaml:"properties"`
	// Models to write; empty: every company model of the messages.
	Models []string `yaml:"models"`
	// MinDelta: a company is written when a score moved by at least this,
	// or its threshold changed (nil: the contacts' min_delta).
	MinDelta *float64 `yaml:"min_delta"`
	Topic    string   `yaml:"topic"` // default company-scores
	Group    string   `yaml:"group"` // consumer group, default bridge-writeback-companies

	minDelta float64
}

// CompanyProperties name the HubSpot company properties; {model} is
// replaced by the company model's name.
type CompanyProperties struct {
	Score     string `yaml:"score"`
	Threshold string `yaml:"threshold"`
	CrossedAt string `yaml:"crossed_at"`
	Top       string `yaml:"top"`
	Coverage  string `yaml:"coverage"`
	Contacts  string `yaml:"contacts"`
}

// Properties name the HubSpot contact properties; {model} is replaced by
// the model name.
type Properties struct {
	Score     string `yaml:"score"`
	Threshold string `yaml:"threshold"`
	CrossedAt string `yaml:"crossed_at"`
	Top       string `yaml:"top"`
}

// Problem is one configuration problem, at a path inside the section.
type Problem struct {
	Path []any
	Msg  string
}

// HubSpot's internal property names: lower case, digits and underscores.
var propertyName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)

// Check applies the defaults and reports every problem.
func (c *Config) Check() []Problem {
	var ps []Problem
	bad := func(path []any, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	p := &c.Properties
	ps = append(ps, checkProperties(nil, c.Models, []template{
		{"score", &p.Score, "scorebridge_{model}_score"},
		{"threshold", &p.Threshold, "scorebridge_{model}_threshold"},
		{"crossed_at", &p.CrossedAt, "scorebridge_{model}_crossed_at"},
		{"top", &p.Top, "scorebridge_{model}_top"},
	})...)
	c.minDelta = DefaultMinDelta
	if c.MinDelta != nil {
		if *c.MinDelta < 0 {
			bad([]any{"min_delta"}, "%v is negative", *c.MinDelta)
		}
		c.minDelta = *c.MinDelta
	}
	c.flush = DefaultFlushInterval
	if c.FlushInterval != "" {
		d, err := dialect.ParseDuration(c.FlushInterval)
		if err != nil {
			bad([]any{"flush_interval"}, "%v", err)
		} else {
			c.flush = d
		}
	}
	switch {
	case c.MaxBatch == 0:
		c.MaxBatch = DefaultMaxBatch
	case c.MaxBatch < 0 || c.MaxBatch > DefaultMaxBatch:
		bad([]any{"max_batch"}, "%d: want 1 to %d (HubSpot's batch limit)", c.MaxBatch, DefaultMaxBatch)
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if co := c.Companies; co != nil {
		cp := &co.Properties
		ps = append(ps, checkProperties([]any{"companies"}, co.Models, []template{
			{"score", &cp.Score, "scorebridge_{model}_score"},
			{"threshold", &cp.Threshold, "scorebridge_{model}_threshold"},
			{"crossed_at", &cp.CrossedAt, "scorebridge_{model}_crossed_at"},
			{"top", &cp.Top, "scorebridge_{model}_top"},
			{"coverage", &cp.Coverage, "scorebridge_{model}_coverage"},
			{"contacts", &cp.Contacts, "scorebridge_{model}_contacts"},
		})...)
		co.minDelta = c.minDelta
		if co.MinDelta != nil {
			if *co.MinDelta < 0 {
				bad([]any{"companies", "min_delta"}, "%v is negative", *co.MinDelta)
			}
			co.minDelta = *co.MinDelta
		}
		if co.Topic == "" {
			co.Topic = DefaultCompanyTopic
		}
		if co.Group == "" {
			co.Group = DefaultCompanyGroup
		}
		if co.Topic == c.Topic {
			bad([]any{"companies", "topic"}, "%q is also the contacts' topic", co.Topic)
		}
		if co.Group == c.Group {
			bad([]any{"companies", "group"}, "%q is also the contacts' consumer group: each needs its own", co.Group)
		}
	}
	return ps
}

// template is a property name template of a section, with its default.
type template struct {
	key string
	v   *string
	def string
}

// checkProperties applies the templates' defaults and checks them and the
// models, under path.
func checkProperties(path []any, models []string, ts []template) []Problem {
	var ps []Problem
	bad := func(key []any, format string, args ...any) {
		ps = append(ps, Problem{Path: append(append([]any{}, path...), key...), Msg: fmt.Sprintf(format, args...)})
	}
	names := map[string]string{}
	for _, f := range ts {
		if *f.v == "" {
			*f.v = f.def
		}
		if prev, ok := names[*f.v]; ok {
			bad([]any{"properties", f.key}, "%q is also the %s property", *f.v, prev)
		}
		names[*f.v] = f.key
		if !strings.Contains(*f.v, "{model}") && len(models) != 1 {
			bad([]any{"properties", f.key}, "%q has no {model}: every model would write the same property (name one model in models, or use {model})", *f.v)
			continue
		}
		if name := strings.ReplaceAll(*f.v, "{model}", "model"); !propertyName.MatchString(name) {
			bad([]any{"properties", f.key}, "%q is not a HubSpot property name (lower case letters, digits, _; a letter first)", *f.v)
		}
	}
	seen := map[string]bool{}
	for i, m := range models {
		switch {
		case m == "":
			bad([]any{"models", i}, "empty model name")
		case seen[m]:
			bad([]any{"models", i}, "model %q listed twice", m)
		case !propertyName.MatchString(strings.ToLower(m)):
			bad([]any{"models", i}, "model %q cannot be part of a property name", m)
		}
		seen[m] = true
	}
	return ps
}

// Flush is the coalescing interval (after Check).
func (c *Config) Flush() time.Duration { return c.flush }

// Delta is the smallest score move written (after Check).
func (c *Config) Delta() float64 { return c.minDelta }

// property is a property name for a model.
func property(template, model string) string {
	return strings.ReplaceAll(template, "{model}", strings.ToLower(model))
}

// writes reports whether the section asks for model.
func (c *Config) writes(model string) bool { return listed(c.Models, model) }

// writes reports whether the companies section asks for model.
func (c *CompanyConfig) writes(model string) bool { return listed(c.Models, model) }

// listed: models is empty (all), or names model.
func listed(models []string, model string) bool {
	return len(models) == 0 || slices.Contains(models, model)
}

// Owns reports whether the write-back writes property name (for any
// model when models is unset): ingestion drops HubSpot's changes to it,
// or a score written would come back as an event.
func (c *Config) Owns(name string) bool {
	for _, tmpl := range []string{c.Properties.Score, c.Properties.Threshold, c.Properties.CrossedAt, c.Properties.Top} {
		if len(c.Models) > 0 {
			for _, m := range c.Models {
				if property(tmpl, m) == name {
					return true
				}
			}
			continue
		}
		pre, post, _ := strings.Cut(tmpl, "{model}")
		if len(name) > len(pre)+len(post) && strings.HasPrefix(name, pre) && strings.HasSuffix(name, post) {
			return true
		}
	}
	return false
}
