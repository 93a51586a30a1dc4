//go:build chdb

package analytics

// The chDB shim: the package's db interface over an embedded ClickHouse 26
// (internal/chdb), built only with -tags chdb (scripts/chdb-test.sh) and
// only into the tests, to prove the schema and every report query on both
// sides of the 18.16 / modern divide.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/internal/chdb"
)

// chdbDB implements db over an embedded chDB session.
type chdbDB struct{ conn *chdb.Conn }

// openChDB starts an embedded ClickHouse with its data under path.
func openChDB(path string) (*chdbDB, error) {
	c, err := chdb.Open(path)
	if err != nil {
		return nil, err
	}
	return &chdbDB{conn: c}, nil
}

func (c *chdbDB) close() { c.conn.Close() }

func (c *chdbDB) run(q, format string) ([]byte, error) { return c.conn.Query(q, format) }

func (c *chdbDB) ping(context.Context) error { return nil }

func (c *chdbDB) exec(_ context.Context, q string) error {
	_, err := c.run(q, "TabSeparated")
	return err
}

func (c *chdbDB) query(_ context.Context, q string) (rows, error) {
	out, err := c.run(q, "JSONCompactEachRow")
	if err != nil {
		return nil, err
	}
	return &chdbRows{sc: bufio.NewScanner(bytes.NewReader(out))}, nil
}

// insert renders the columns as one INSERT ... VALUES statement; chDB has
// no native-protocol batch, and modern servers parse VALUES fine.
func (c *chdbDB) insert(_ context.Context, table string, columns []string, data []any) error {
	if len(data) == 0 {
		return nil
	}
	n := reflect.ValueOf(data[0]).Len()
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j, col := range data {
			if j > 0 {
				b.WriteByte(',')
			}
			switch v := col.(type) {
			case []string:
				b.WriteString(quote(v[i]))
			case []int64:
				b.WriteString(strconv.FormatInt(v[i], 10))
			case []uint64:
				b.WriteString(strconv.FormatUint(v[i], 10))
			case []uint32:
				b.WriteString(strconv.FormatUint(uint64(v[i]), 10))
			case []uint8:
				b.WriteString(strconv.FormatUint(uint64(v[i]), 10))
			case []time.Time:
				b.WriteString(strconv.FormatInt(v[i].Unix(), 10))
			default:
				return fmt.Errorf("chdb insert: column %s: unsupported type %T", columns[j], col)
			}
		}
		b.WriteByte(')')
	}
	_, err := c.run(b.String(), "TabSeparated")
	return err
}

type chdbRows struct {
	sc  *bufio.Scanner
	cur []json.RawMessage
	err error
}

func (r *chdbRows) Next() bool {
	if r.err != nil {
		return false
	}
	for r.sc.Scan() {
		line := bytes.TrimSpace(r.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r.cur = nil
		if err := json.Unmarshal(line, &r.cur); err != nil {
			r.err = err
			return false
		}
		return true
	}
	r.err = r.sc.Err()
	return false
}

func (r *chdbRows) Scan(dest ...any) error {
	if len(dest) != len(r.cur) {
		return fmt.Errorf("chdb scan: %d destinations for %d columns", len(dest), len(r.cur))
	}
	for i, d := range dest {
		if err := scanJSON(r.cur[i], d); err != nil {
			return fmt.Errorf("chdb scan column %d: %w", i, err)
		}
	}
	return nil
}

func (r *chdbRows) Err() error   { return r.err }
func (r *chdbRows) Close() error { return nil }

// scanJSON decodes one JSONCompactEachRow value into the same Go types the
// native driver fills. 64-bit integers may come quoted.
func scanJSON(raw json.RawMessage, dest any) error {
	unq := func() string {
		s := strings.TrimSpace(string(raw))
		if strings.HasPrefix(s, `"`) {
			var v string
			_ = json.Unmarshal(raw, &v)
			return v
		}
		return s
	}
	switch d := dest.(type) {
	case *string:
		return json.Unmarshal(raw, d)
	case *int64:
		v, err := strconv.ParseInt(unq(), 10, 64)
		*d = v
		return err
	case *uint64:
		v, err := strconv.ParseUint(unq(), 10, 64)
		*d = v
		return err
	case *uint32:
		v, err := strconv.ParseUint(unq(), 10, 32)
		*d = uint32(v)
		return err
	case *float64:
		v, err := strconv.ParseFloat(unq(), 64)
		*d = v
		return err
	case *[]string:
		return json.Unmarshal(raw, d)
	case *[]int64:
		var xs []json.RawMessage
		if err := json.Unmarshal(raw, &xs); err != nil {
			return err
		}
		*d = make([]int64, len(xs))
		for i, x := range xs {
			if err := scanJSON(x, &(*d)[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported destination %T", dest)
}
