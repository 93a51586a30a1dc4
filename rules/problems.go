package rules

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a rule file, with its place.
type Problem struct {
	File  string
	Line  int
	Model string
	Group string
	Msg   string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Group != "" {
		fmt.Fprintf(&b, "group %q: ", p.Group)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found while loading, returned as one error so
// a rule author fixes them all in one pass.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
