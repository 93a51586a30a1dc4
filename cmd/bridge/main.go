// Command bridge turns threshold crossings into HubSpot sequence and
// workflow enrollments (`bridge run`), serves a local HubSpot sandbox
// (`bridge sandbox`), checks a configuration (`bridge check`) and measures
// itself (`bridge bench`). It only wires flags to packages: the decisions
// live in package enrollment, HubSpot in hubspot, Kafka in stream,
// ClickHouse in analytics.
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

var commands = map[string]command{
	"run":     {"consume crossings and enroll contacts (the service)", cmdRun},
	"sandbox": {"serve the local HubSpot sandbox", cmdSandbox},
	"check":   {"validate a bridge configuration, printing every problem", cmdCheck},
	"bench":   {"measure crossing-to-enrollment latency and throughput against the sandbox", cmdBench},
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
	fmt.Fprintf(stderr, "bridge %s: %v\n", name, err)
	return 1
}

func usage(w io.Writer, name string) {
	if name != "" && name != "help" && name != "-h" && name != "--help" {
		fmt.Fprintf(w, "bridge: unknown command %q\n\n", name)
	}
	fmt.Fprintln(w, "usage: bridge COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'bridge COMMAND -h' for a command's flags.")
}

// flags returns a FlagSet that reports errors to stderr and does not exit.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
