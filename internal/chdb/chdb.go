//go:build chdb

package chdb

/*
#cgo LDFLAGS: -L${SRCDIR}/../../.local/chdb/package -lchdb -Wl,-rpath,${SRCDIR}/../../.local/chdb/package
#include <stdlib.h>
#include <stddef.h>

typedef struct chdb_connection_ { void *internal_data; } chdb_connection_;
typedef chdb_connection_ *chdb_connection;
typedef struct chdb_result_ { void *internal_data; } chdb_result;

extern chdb_connection *chdb_connect(int argc, char **argv);
extern void chdb_close_conn(chdb_connection *conn);
extern chdb_result *chdb_query(chdb_connection conn, const char *query, const char *format);
extern void chdb_destroy_query_result(chdb_result *result);
extern char *chdb_result_buffer(chdb_result *result);
extern size_t chdb_result_length(chdb_result *result);
extern const char *chdb_result_error(chdb_result *result);
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Conn is one embedded chDB session. Queries are serialised: the C API's
// session is not safe for concurrent use.
type Conn struct {
	mu   sync.Mutex
	conn *C.chdb_connection
}

// Open starts an embedded ClickHouse with its data under path.
func Open(path string) (*Conn, error) {
	args := []string{"clickhouse", "--path=" + path}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	conn := C.chdb_connect(C.int(len(args)), &argv[0])
	if conn == nil {
		return nil, errors.New("chdb_connect failed")
	}
	return &Conn{conn: conn}, nil
}

// Close ends the session.
func (c *Conn) Close() { C.chdb_close_conn(c.conn) }

// Query runs q and returns its result in the named output format
// ("TabSeparated", "JSONCompactEachRow", ...).
func (c *Conn) Query(q, format string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cq, cf := C.CString(q), C.CString(format)
	defer C.free(unsafe.Pointer(cq))
	defer C.free(unsafe.Pointer(cf))
	res := C.chdb_query(*c.conn, cq, cf)
	if res == nil {
		return nil, errors.New("chdb_query returned nil")
	}
	defer C.chdb_destroy_query_result(res)
	if e := C.chdb_result_error(res); e != nil {
		return nil, fmt.Errorf("chDB: %s", C.GoString(e))
	}
	n := C.chdb_result_length(res)
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(unsafe.Pointer(C.chdb_result_buffer(res)), C.int(n)), nil
}
