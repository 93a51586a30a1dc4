// Package cli is the subcommand dispatch the project's commands share
// (scorer, bridge): exit statuses, usage, flag sets that report instead of
// exiting, and environment fallbacks for flags. It knows nothing of what
// the commands do.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Command is one subcommand.
type Command struct {
	Summary string
	Run     func(args []string, stdout, stderr io.Writer) error
}

// Set is a program's subcommands. A name may be two words ("rules check").
type Set struct {
	Program  string
	Commands map[string]Command
}

// ExitError carries an exit status without another message.
type ExitError int

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Main runs the subcommand args name and returns the exit status: 0, the
// command's ExitError, 1 for any other error (printed), 2 for usage.
func (s *Set) Main(args []string, stdout, stderr io.Writer) int {
	name, rest := "", args
	if len(args) > 0 {
		name, rest = args[0], args[1:]
		if len(rest) > 0 {
			if _, ok := s.Commands[name+" "+rest[0]]; ok {
				name, rest = name+" "+rest[0], rest[1:]
			}
		}
	}
	cmd, ok := s.Commands[name]
	if !ok {
		s.usage(stderr, name)
		return 2
	}
	err := cmd.Run(rest, stdout, stderr)
	var code ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "%s %s: %v\n", s.Program, name, err)
	return 1
}

func (s *Set) usage(w io.Writer, name string) {
	if name != "" && name != "help" && name != "-h" && name != "--help" {
		fmt.Fprintf(w, "%s: unknown command %q\n\n", s.Program, name)
	}
	fmt.Fprintf(w, "usage: %s COMMAND [flags]\n\ncommands:\n", s.Program)
	names := make([]string, 0, len(s.Commands))
	for n := range s.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, s.Commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND -h' for a command's flags.\n", s.Program)
}

// Flags returns a FlagSet that reports errors to stderr and does not exit.
func Flags(program, name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(program+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// Parse parses args into fs and refuses any argument left after the
// flags: a command that takes none says so rather than ignore a typo.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// Brokers adds the --brokers flag of the commands that reach Kafka: a
// comma-separated list, by default $KAFKA_BROKERS or 127.0.0.1:9092. The
// returned func gives the list once fs is parsed.
func Brokers(fs *flag.FlagSet, usage string) func() []string {
	b := fs.String("brokers", EnvOr("KAFKA_BROKERS", "127.0.0.1:9092"), usage)
	return func() []string { return strings.Split(*b, ",") }
}

// EnvOr returns the environment variable's value, or def.
func EnvOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
