package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"sort"
)

// stdin is a variable so tests can feed commands.
var stdin io.Reader = os.Stdin

func openFile(path string) (*os.File, error) { return os.Open(path) }

type jsonLines struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newJSONLines(w io.Writer) *jsonLines {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &jsonLines{w: bw, enc: json.NewEncoder(bw)}
}

func (j *jsonLines) write(v any) error { return j.enc.Encode(v) }
func (j *jsonLines) flush() error      { return j.w.Flush() }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
