package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestMain(t *testing.T) {
	var got []string
	s := Set{Program: "prog", Commands: map[string]Command{
		"run":         {Summary: "runs", Run: func(args []string, _, _ io.Writer) error { got = args; return nil }},
		"rules check": {Summary: "checks", Run: func([]string, io.Writer, io.Writer) error { return ExitError(3) }},
		"fail":        {Summary: "fails", Run: func([]string, io.Writer, io.Writer) error { return errors.New("boom") }},
		"help":        {Summary: "help", Run: func([]string, io.Writer, io.Writer) error { return flag.ErrHelp }},
	}}
	var out, errOut bytes.Buffer
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"run", "a", "b"}, 0, ""},
		{[]string{"rules", "check", "x"}, 3, ""},
		{[]string{"fail"}, 1, "prog fail: boom"},
		{[]string{"help"}, 0, ""},
		{[]string{"nope"}, 2, `prog: unknown command "nope"`},
		{nil, 2, "usage: prog COMMAND"},
	}
	for _, c := range cases {
		errOut.Reset()
		if code := s.Main(c.args, &out, &errOut); code != c.code || !strings.Contains(errOut.String(), c.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", c.args, code, errOut.String(), c.code, c.err)
		}
	}
	if strings.Join(got, ",") != "a,b" {
		t.Errorf("run got %v", got)
	}
}

func TestEnvOr(t *testing.T) {
	t.Setenv("CLI_TEST_X", "set")
	t.Setenv("CLI_TEST_EMPTY", "")
	if EnvOr("CLI_TEST_X", "d") != "set" || EnvOr("CLI_TEST_EMPTY", "d") != "d" || EnvOr("CLI_TEST_UNSET", "d") != "d" {
		t.Error("EnvOr")
	}
}
