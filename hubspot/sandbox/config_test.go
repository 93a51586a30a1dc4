package sandbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

func TestLoadSampleConfig(t *testing.T) {
	cfg, err := sandbox.LoadConfig("../../testdata/sandbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sequences) != 6 || len(cfg.Workflows) != 2 || len(cfg.Senders) != 8 {
		t.Fatalf("sample: %d sequences, %d workflows, %d senders", len(cfg.Sequences), len(cfg.Workflows), len(cfg.Senders))
	}
	for i, s := range cfg.Senders {
		if want := "u-" + string(rune('1'+i)); s.OwnerID != want {
			t.Errorf("senders[%d].owner_id = %q, want %q", i, s.OwnerID, want)
		}
	}
	if _, err := sandbox.New(cfg, sandbox.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every fragment must appear in the one error
	}{
		{"empty", "", []string{"empty file"}},
		{"unknown key", "token: x\nbogus: 1\n", []string{`config:2: unknown key "bogus"`}},
		{"unknown nested key", "token: x\nsenders:\n  - {user_id: '1', email: a@b.c, cap: 3}\n", []string{`config:3: senders[0]: unknown key "cap"`}},
		{"durations in the dialect, at their lines", "token: x\nrate_limit: {interval: 1h30m}\nfaults: {latency: soon}\n",
			[]string{`config:2: rate_limit.interval: duration "1h30m": want a positive integer`, `config:3: faults.latency: duration "soon"`}},
		{"everything at once", `
senders:
  - {user_id: "1", email: "not-an-email"}
  - {user_id: "1", email: "b@example.com"}
sequences:
  - id: "9"
    user_id: "77"
    steps:
      - {action: SMS}
      - {action: TASK, task_type: FAX}
      - {action: EMAIL, delay: 1h, delay_days: 1}
  - {id: "9", name: dup, steps: []}
workflows:
  - {id: 0, name: w}
faults: {error_rate: 2}
contact_email_template: "nobody@example.net"
companies:
  - {id: "501", name: Acme}
  - {id: "501", name: Acme again}
  - {id: "a/b"}
`, []string{
			"token: required",
			`senders[0] (1): email "not-an-email"`,
			`senders[1]: duplicate user_id "1"`,
			"sequences[0] (9): name required",
			`user_id "77" is not a sender`,
			`steps[0]: action "SMS"`,
			`steps[1]: task_type "FAX"`,
			"steps[2]: set delay or delay_days, not both",
			"sequences[1] (9): duplicate id",
			"at least one step required",
			"workflows[0]: id must be a positive number",
			"faults.error_rate 2",
			"must contain {id}",
			`companies[1]: duplicate id "501"`,
			`companies[2]: id "a/b": required, without / or spaces`,
		}},
		{"too many emails", "token: x\nsequences:\n  - id: '1'\n    name: n\n    steps: [" + strings.Repeat("{action: EMAIL},", 11) + "]\n",
			[]string{"11 email steps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sandbox.ParseConfig([]byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func FuzzParseSandboxConfig(f *testing.F) {
	f.Add([]byte("token: t\ncontacts_auto: true\nsequences:\n  - {id: '1', name: n, steps: [{action: EMAIL}, {action: TASK, task_type: CALL, delay_days: 1}]}\n"))
	f.Add([]byte("token: t\nworkflows: [{id: 5, name: w}]\nfaults: {latency: 10ms, error_rate: 0.5}\n"))
	f.Add([]byte("rate_limit: {max: -1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := sandbox.ParseConfig(b)
		if err != nil {
			return
		}
		// A configuration that loads must build a sandbox.
		if _, err := sandbox.New(cfg, sandbox.Options{}); err != nil {
			t.Fatalf("loaded but New failed: %v", err)
		}
	})
}

// The sandbox's durations are the configuration dialect's, as in rule
// files and the bridge configuration: 1d, 1w and 500ms read, zero is zero.
func TestConfigDurations(t *testing.T) {
	cfg, err := sandbox.ParseConfig([]byte(`token: x
rate_limit: {interval: 10s}
faults: {latency: 500ms, answer_delay: 0}
sequences:
  - id: "1"
    name: n
    steps: [{action: EMAIL}, {action: TASK, task_type: CALL, delay: 1d}, {action: EMAIL, delay: 1w}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimit.Interval != 10*time.Second || cfg.Faults.Latency != 500*time.Millisecond || cfg.Faults.AnswerDelay != 0 {
		t.Errorf("interval %v, latency %v, answer_delay %v", cfg.RateLimit.Interval, cfg.Faults.Latency, cfg.Faults.AnswerDelay)
	}
	if steps := cfg.Sequences[0].Steps; steps[1].Delay != 24*time.Hour || steps[2].Delay != 7*24*time.Hour {
		t.Errorf("step delays %v, %v; want 1d and 1w", steps[1].Delay, steps[2].Delay)
	}
}
