// Command scorer is scorebridge's lead-scoring service and the tools to
// write, test and report on score rules. It only wires flags to packages.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary, run}
}

// exitError carries an exit status without another message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	name, rest := "", args
	if len(args) > 0 {
		name, rest = args[0], args[1:]
		if name == "rules" && len(rest) > 0 {
			name, rest = "rules "+rest[0], rest[1:]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		usage(stderr, name)
		return 2
	}
	err := cmd.run(rest, stdout, stderr)
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "scorer %s: %v\n", name, err)
	return 1
}

func usage(w io.Writer, name string) {
	if name != "" && name != "help" && name != "-h" && name != "--help" {
		fmt.Fprintf(w, "scorer: unknown command %q\n\n", name)
	}
	fmt.Fprintln(w, "usage: scorer COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'scorer COMMAND -h' for a command's flags.")
}

// flags returns a FlagSet that reports errors to stderr and does not exit.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("scorer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
