package dialect

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in, want string // want "" is the zero time; "!" an error
	}{
		{"", ""},
		{"2026-03-01T09:30:00Z", "2026-03-01T09:30:00Z"},
		{"2026-03-01T09:30:00.5+02:00", "2026-03-01T07:30:00.5Z"},
		{"2026-03-01", "2026-03-01T00:00:00Z"},
		{"2026-03-01T09:30:00", "2026-03-01T09:30:00Z"},
		{"yesterday", "!"},
		{"2026-13-01", "!"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		switch {
		case tt.want == "!":
			if err == nil || !strings.Contains(err.Error(), "RFC 3339") || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("%q: %v, %v; want an error naming the input", tt.in, got, err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.want == "" && !got.IsZero():
			t.Errorf("%q: %v, want the zero time", tt.in, got)
		case tt.want != "" && got.Format(time.RFC3339Nano) != tt.want:
			t.Errorf("%q: %s, want %s", tt.in, got.Format(time.RFC3339Nano), tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	err := &LimitError{Msg: "unknown name foo (1:5)\n | foo  + 1\n | ....^"}
	if got := OneLine(err); got != "unknown name foo (1:5)" {
		t.Errorf("OneLine = %q", got)
	}
	if got := OneLine(&LimitError{Msg: "  two   spaces\tand a tab "}); got != "two spaces and a tab" {
		t.Errorf("OneLine = %q", got)
	}
}
