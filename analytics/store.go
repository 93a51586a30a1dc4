package analytics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"
)

// db is the slice of ClickHouse this package uses. The native driver
// implements it for production; the chDB test implements it to run the very
// same SQL on ClickHouse 26. Queries are rendered with literals by this
// package (see quote), never with server-side parameters, which 18.16 lacks.
type db interface {
	exec(ctx context.Context, query string) error
	query(ctx context.Context, query string) (rows, error)
	// insert appends columns (one typed slice per name) to table.
	insert(ctx context.Context, table string, columns []string, data []any) error
	// ping checks that the server answers.
	ping(ctx context.Context) error
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// nativeDB adapts clickhouse-go's native-protocol connection.
type nativeDB struct{ conn driver.Conn }

func (n nativeDB) exec(ctx context.Context, q string) error { return n.conn.Exec(ctx, q) }

func (n nativeDB) ping(ctx context.Context) error { return n.conn.Ping(ctx) }

func (n nativeDB) query(ctx context.Context, q string) (rows, error) { return n.conn.Query(ctx, q) }

func (n nativeDB) insert(ctx context.Context, table string, columns []string, data []any) error {
	// An explicit column list is required: 18.16 and modern servers order
	// and default columns differently. Exec("INSERT ... VALUES") hangs on 18.16.
	batch, err := n.conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(columns, ", ")+")")
	if err != nil {
		return err
	}
	rows := 0
	if len(data) > 0 {
		rows = reflect.ValueOf(data[0]).Len()
	}
	// Sent in blocks of insertBlockRows: the driver's column buffers grow
	// to one block and are reused for the next (Flush resets them), not
	// grown by doubling to the whole insert and copied each time. The
	// server squashes an INSERT's blocks (min_insert_block_size_rows,
	// about a million rows) before it writes parts, so the parts are the
	// same as from one block.
	for lo := 0; lo < rows || lo == 0; lo += insertBlockRows {
		hi := min(lo+insertBlockRows, rows)
		for i, col := range data {
			if err := batch.Column(i).Append(sliceColumn(col, lo, hi)); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("column %s: %w", columns[i], err)
			}
		}
		if hi == rows {
			break
		}
		if err := batch.Flush(); err != nil {
			_ = batch.Abort()
			return err
		}
	}
	return batch.Send()
}

// insertBlockRows is the rows of one block the native driver sends:
// BenchmarkWriterInsert, 50,000 touches an insert, measured the client's
// CPU at 510 ns a row in blocks of 1,024, 640-700 of 2,048, 730-820 of
// 8,192, 1,300-1,570 in one block, the server's no higher (a variable for
// the benchmark).
var insertBlockRows = 1024

// sliceColumn is rows [lo, hi) of a column slice.
func sliceColumn(col any, lo, hi int) any {
	switch c := col.(type) {
	case []string:
		return c[lo:hi]
	case []int64:
		return c[lo:hi]
	case []uint64:
		return c[lo:hi]
	case []uint32:
		return c[lo:hi]
	case []time.Time:
		return c[lo:hi]
	case [][]string:
		return c[lo:hi]
	}
	return reflect.ValueOf(col).Slice(lo, hi).Interface()
}

// Store is a connection to the analytics database.
type Store struct {
	conn     driver.Conn // nil when the store runs over another db (chDB test)
	db       db
	database string
	version  string
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// OpenWaiting is Open retried with backoff (from 100 ms up to maxWait
// between attempts, default 5 s) until ClickHouse answers or ctx ends, so
// a service started during an outage waits instead of exiting. A DSN that
// cannot work (malformed, not the native protocol, a bad database name)
// fails at once. notify, when set, sees each failure and the wait before
// the next attempt.
func OpenWaiting(ctx context.Context, dsn string, maxWait time.Duration, notify func(err error, wait time.Duration)) (*Store, error) {
	if _, err := checkDSN(dsn); err != nil {
		return nil, err
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	if maxWait > 0 {
		b.MaxInterval = maxWait
	}
	b.MaxElapsedTime = 0
	var s *Store
	op := func() error {
		var err error
		s, err = Open(ctx, dsn)
		return err
	}
	if notify == nil {
		notify = func(error, time.Duration) {}
	}
	if err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for ClickHouse: %w (last error: %v)", ctx.Err(), err)
		}
		return nil, err
	}
	return s, nil
}

// checkDSN rejects a DSN no retry can make work.
func checkDSN(dsn string) (*clickhouse.Options, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing ClickHouse DSN: %w", err)
	}
	if opts.Protocol != clickhouse.Native {
		// The HTTP protocol fails at Ping on 18.16.
		return nil, errors.New("ClickHouse DSN must use the native protocol (clickhouse://host:9000/db)")
	}
	database := opts.Auth.Database
	if database == "" {
		database = "default"
	}
	if !identRE.MatchString(database) {
		return nil, fmt.Errorf("database name %q: only letters, digits and _", database)
	}
	return opts, nil
}

// Open connects to dsn (clickhouse://host:9000/database) over the native
// protocol, creates the database when missing and applies migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	opts, err := checkDSN(dsn)
	if err != nil {
		return nil, err
	}
	database := opts.Auth.Database
	if database == "" {
		database = "default"
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if database != "default" {
		// Connecting to a missing database fails, so create it first from default.
		boot := *opts
		boot.Auth.Database = "default"
		c, err := clickhouse.Open(&boot)
		if err != nil {
			return nil, fmt.Errorf("connecting to ClickHouse at %v: %w", opts.Addr, err)
		}
		err = c.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database)
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("creating database %s at %v: %w", database, opts.Addr, err)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %v: %w", opts.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connecting to ClickHouse at %v: %w", opts.Addr, err)
	}
	s := &Store{conn: conn, db: nativeDB{conn}, database: database}
	if err := s.init(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	v, err := serverVersion(ctx, s.db)
	if err != nil {
		return err
	}
	s.version = v
	if _, err := migrate(ctx, s.db); err != nil {
		return err
	}
	return nil
}

// ServerVersion is the connected server's version, e.g. "18.16.1".
func (s *Store) ServerVersion() string { return s.version }

// Database is the database the store reads and writes.
func (s *Store) Database() string { return s.database }

// Close closes the connection.
func (s *Store) Close() error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// DropDatabase removes the store's database; tests use it to clean up.
func (s *Store) DropDatabase(ctx context.Context) error {
	return s.db.exec(ctx, "DROP DATABASE IF EXISTS "+s.database)
}

// Rows are the rows of a Query.
type Rows = rows

// Query runs a SELECT that a package above this one renders over the
// tables documented in docs/analysts.md (calibration's over touches and
// score_ledger, say), with literals made by Quote: the server-side
// parameters 18.16 lacks are never used. The caller closes the rows.
func (s *Store) Query(ctx context.Context, sql string) (Rows, error) {
	return s.db.query(ctx, sql)
}

// Quote renders s as a ClickHouse string literal for a Query.
func Quote(s string) string { return quote(s) }

// quote renders s as a ClickHouse string literal. Backslash and quote are
// the only characters the parser treats specially inside '...'.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }
