package leadscores

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// ReadFile reads a file of messages, one JSON line each, as `scorer
// state scores` prints them. Errors name the file and line.
func ReadFile(path string) ([]Message, error) {
	return ReadFileKeyed(path, "contact_id", Decode)
}

// ReadFileKeyed reads a file of a scores topic's messages, one JSON line
// each, with decode (Decode, companyscores.Decode) keyed by the line's
// idField. Errors name the file and line.
func ReadFileKeyed[M any](path, idField string, decode func(key, value []byte) (M, bool, error)) ([]M, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []M
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var fields map[string]json.RawMessage
		var id string
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		json.Unmarshal(fields[idField], &id)
		m, _, err := decode([]byte(id), sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
