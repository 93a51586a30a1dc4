package demo

import (
	"bytes"
	"io"
)

// LinesWriter passes the first Max lines through to W, each after Prefix,
// and counts the rest in Dropped.
type LinesWriter struct {
	W       io.Writer
	Max     int
	Prefix  string
	Dropped int

	n       int
	partial []byte
}

func (l *LinesWriter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if l.n < l.Max {
			if _, err := io.WriteString(l.W, l.Prefix+string(l.partial[:i+1])); err != nil {
				return 0, err
			}
		} else {
			l.Dropped++
		}
		l.n++
		l.partial = l.partial[i+1:]
	}
}
