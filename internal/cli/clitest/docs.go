// Package clitest checks the flag tables of the project's documentation
// against the commands themselves: every flag a table names exists, its
// default is the one the command prints, and every environment variable it
// names really sets that flag. Only tests import it.
package clitest

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Usage runs a command's -h and returns its flags' defaults by name.
type Usage func(t *testing.T) map[string]string

// DocRow is one row of a flag table.
type DocRow struct {
	Where    string // file:line
	Flags    []string
	Envs     []string
	Defaults []string
}

var (
	flagRe    = regexp.MustCompile("`--([a-z0-9-]+)")
	envRe     = regexp.MustCompile("`([A-Z][A-Z0-9_]{2,})`")
	codeRe    = regexp.MustCompile("`([^`]*)`")
	usageFlag = regexp.MustCompile(`^  -([a-z0-9-]+)`)
	defaultRe = regexp.MustCompile(`\(default "?([^")]*)"?\)\s*$`)
)

// ParseUsage reads flag.PrintDefaults output: flag name -> default ("" when
// none is printed).
func ParseUsage(out string) map[string]string {
	flags := map[string]string{}
	name := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := usageFlag.FindStringSubmatch(line); m != nil {
			name = m[1]
			flags[name] = ""
		}
		if m := defaultRe.FindStringSubmatch(line); m != nil && name != "" {
			flags[name] = m[1]
		}
	}
	return flags
}

// Rows returns the flag-table rows of the files that sit under a heading
// naming the command ("scorer run").
func Rows(t *testing.T, command string, files ...string) []DocRow {
	t.Helper()
	var rows []DocRow
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		under := false
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "#") {
				under = strings.Contains(line, command)
				continue
			}
			if !under || !strings.HasPrefix(line, "|") {
				continue
			}
			cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "| "), `\|`, "/"), "|")
			if len(cells) < 3 || !strings.Contains(cells[0], "`--") {
				continue
			}
			r := DocRow{Where: f + ":" + strconv.Itoa(i+1)}
			for _, m := range flagRe.FindAllStringSubmatch(cells[0], -1) {
				r.Flags = append(r.Flags, m[1])
			}
			for _, m := range envRe.FindAllStringSubmatch(cells[1], -1) {
				r.Envs = append(r.Envs, m[1])
			}
			for _, m := range codeRe.FindAllStringSubmatch(cells[2], -1) {
				r.Defaults = append(r.Defaults, m[1])
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		t.Fatalf("no flag table for %q in %v", command, files)
	}
	return rows
}

// Check compares the rows with the command: usage runs -h under the
// current environment; indirect lists environment variables the command
// reads outside flag defaults (tokens, a repeatable flag's list), which
// only have to appear in the command's source (src).
func Check(t *testing.T, rows []DocRow, usage Usage, indirect map[string]bool, src string) {
	t.Helper()
	flags := usage(t)
	for _, r := range rows {
		for i, f := range r.Flags {
			def, ok := flags[f]
			if !ok {
				t.Errorf("%s: --%s is not a flag of the command", r.Where, f)
				continue
			}
			if len(r.Defaults) == len(r.Flags) && def != "" && !sameDefault(def, r.Defaults[i]) {
				t.Errorf("%s: --%s defaults to %q, the docs say %q", r.Where, f, def, r.Defaults[i])
			}
		}
		for _, env := range r.Envs {
			if indirect[env] {
				if !strings.Contains(src, `"`+env+`"`) {
					t.Errorf("%s: $%s is not read by the command", r.Where, env)
				}
				continue
			}
			if len(r.Flags) != 1 {
				t.Errorf("%s: $%s in a row of several flags", r.Where, env)
				continue
			}
			sentinel := "from-env-7c1"
			if _, err := dialect.ParseDuration(flags[r.Flags[0]]); err == nil {
				sentinel = "13w" // a duration flag keeps its default for anything else
			}
			t.Setenv(env, sentinel)
			got := usage(t)[r.Flags[0]]
			os.Unsetenv(env)
			if got != sentinel {
				t.Errorf("%s: $%s does not set --%s (default with it set: %q)", r.Where, env, r.Flags[0], got)
			}
		}
	}
}

func sameDefault(code, doc string) bool {
	if code == doc {
		return true
	}
	a, errA := dialect.ParseDuration(code)
	b, errB := dialect.ParseDuration(doc)
	return errA == nil && errB == nil && a == b
}
