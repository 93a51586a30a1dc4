// Command scorer is scorebridge's lead-scoring service and the tools to
// write, test and report on score rules. It only wires flags to packages.
package main

import (
	"flag"
	"io"
	"os"
	"strings"

	"github.com/scorebridge/scorebridge/internal/cli"
)

var commands = cli.Set{Program: "scorer", Commands: map[string]cli.Command{}}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands.Commands[name] = cli.Command{Summary: summary, Run: run}
}

type exitError = cli.ExitError

var envOr = cli.EnvOr

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int { return commands.Main(args, stdout, stderr) }

// newFlagSet makes every command's flag set; a test wraps it to see them
// all (TestDurationFlagsSpeakTheDialect).
var newFlagSet = cli.Flags

func flags(name string, stderr io.Writer) *flag.FlagSet { return newFlagSet("scorer", name, stderr) }

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
