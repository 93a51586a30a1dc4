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
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
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
// A duration flag's environment default that does not parse is an error
// here, unless the command line gave the flag.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// ParseFlags is fs.Parse, then the check of environment defaults that
// Parse makes, for a command that takes arguments after its flags.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if d, ok := f.Value.(*envDuration); ok && d.err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.Name, d.err))
		}
	})
	return errors.Join(errs...)
}

// Duration defines a duration flag in the configuration dialect's syntax
// (dialect.ParseDuration: 500ms, 90s, 5m, 24h, 7d, 1w; "0" for zero), the
// syntax of rule files and the bridge configuration. flag.Duration would
// refuse 7d. With env not empty, that environment variable, when set,
// gives the default in the same syntax.
func Duration(fs *flag.FlagSet, name, env string, def time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	DurationVar(fs, p, name, env, def, usage)
	return p
}

// DurationVar is Duration storing into p.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	*p = def
	v := &envDuration{DurationValue: (*dialect.DurationValue)(p)}
	if s, ok := os.LookupEnv(env); ok && env != "" && s != "" {
		if err := v.DurationValue.Set(s); err != nil {
			*p = def
			v.err = fmt.Errorf("env %s: %w", env, err)
		}
	}
	fs.Var(v, name, usage)
}

// envDuration is a dialect duration flag that remembers a bad default
// from the environment until the command line sets the flag.
type envDuration struct {
	*dialect.DurationValue
	err error
}

func (v *envDuration) Set(s string) error {
	v.err = nil
	return v.DurationValue.Set(s)
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
