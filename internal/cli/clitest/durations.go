package clitest

import (
	"flag"
	"io"
	"testing"
	"time"
)

// CaptureFlagSets replaces *newFlagSet (a command's maker of flag sets,
// cli.Flags) for the test's duration with one that also collects what it
// makes, and returns the collection.
func CaptureFlagSets(t *testing.T, newFlagSet *func(program, name string, stderr io.Writer) *flag.FlagSet) *[]*flag.FlagSet {
	t.Helper()
	var sets []*flag.FlagSet
	orig := *newFlagSet
	*newFlagSet = func(program, name string, stderr io.Writer) *flag.FlagSet {
		fs := orig(program, name, stderr)
		sets = append(sets, fs)
		return fs
	}
	t.Cleanup(func() { *newFlagSet = orig })
	return &sets
}

// DurationFlags checks that every duration-typed flag of sets (a flag
// whose value is a time.Duration, the dialect's or flag.Duration's) reads
// one week written as 1w, 7d and 168h alike, and zero as 0, and returns
// the names of the flags it checked.
func DurationFlags(t *testing.T, sets []*flag.FlagSet) []string {
	t.Helper()
	var names []string
	for _, fs := range sets {
		fs.VisitAll(func(f *flag.Flag) {
			g, ok := f.Value.(flag.Getter)
			if !ok {
				return
			}
			if _, ok := g.Get().(time.Duration); !ok {
				return
			}
			names = append(names, fs.Name()+" --"+f.Name)
			for _, s := range []string{"1w", "7d", "168h", "0"} {
				want := 7 * 24 * time.Hour
				if s == "0" {
					want = 0
				}
				if err := f.Value.Set(s); err != nil {
					t.Errorf("%s --%s %s: %v", fs.Name(), f.Name, s, err)
					continue
				}
				if got := g.Get().(time.Duration); got != want {
					t.Errorf("%s --%s %s = %v, want %v", fs.Name(), f.Name, s, got, want)
				}
			}
		})
	}
	return names
}
