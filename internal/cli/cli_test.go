package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
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

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"-n", "2"}, ""},
		{[]string{"-n", "2", "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-h"}, flag.ErrHelp.Error()},
	} {
		fs := Flags("prog", "cmd", io.Discard)
		n := fs.Int("n", 0, "")
		err := Parse(fs, c.args)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.err == "" && *n != 2:
			t.Errorf("%v: -n is %d", c.args, *n)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%v: error %v, want %q", c.args, err, c.err)
		}
	}
}

func TestBrokers(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, "127.0.0.1:9092"},
		{"k1:9092,k2:9092", nil, "k1:9092|k2:9092"},
		{"k1:9092", []string{"--brokers", "a:1,b:2"}, "a:1|b:2"},
	} {
		t.Setenv("KAFKA_BROKERS", c.env)
		fs := Flags("prog", "cmd", io.Discard)
		brokers := Brokers(fs, "Kafka brokers")
		if err := Parse(fs, c.args); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(brokers(), "|"); got != c.want {
			t.Errorf("env %q args %v: brokers %q, want %q", c.env, c.args, got, c.want)
		}
	}
}

// A duration flag's environment default is in the dialect too; a bad one
// is an error naming the variable, unless the command line sets the flag.
func TestDurationFromEnv(t *testing.T) {
	parse := func(env string, args ...string) (time.Duration, error) {
		t.Setenv("TEST_AHEAD", env)
		fs := Flags("prog", "run", io.Discard)
		d := Duration(fs, "ahead", "TEST_AHEAD", 24*time.Hour, "")
		err := Parse(fs, args)
		return *d, err
	}
	if d, err := parse("1w"); err != nil || d != 7*24*time.Hour {
		t.Errorf("env 1w: %v, %v", d, err)
	}
	if d, err := parse(""); err != nil || d != 24*time.Hour {
		t.Errorf("env empty: %v, %v; want the default", d, err)
	}
	if _, err := parse("1h30m"); err == nil || !strings.Contains(err.Error(), "TEST_AHEAD") || !strings.Contains(err.Error(), "--ahead") {
		t.Errorf("env 1h30m: %v; want an error naming the variable and the flag", err)
	}
	if d, err := parse("1h30m", "--ahead", "7d"); err != nil || d != 7*24*time.Hour {
		t.Errorf("bad env, flag 7d: %v, %v", d, err)
	}
}
