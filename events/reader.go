package events

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// LineError is a bad line of a JSONL stream: reported, skipped, and the
// stream goes on.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads events from JSONL. Blank lines are skipped; a line over
// MaxEventBytes is discarded up to its newline, so one huge line costs no
// memory and does not desynchronise the rest.
type Reader struct {
	r    *bufio.Reader
	line int
	buf  []byte
	proj *Projection
}

// NewReader reads JSONL events from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Project makes Next and Each decode with p (nil: every key).
func (r *Reader) Project(p *Projection) { r.proj = p }

// Line is the number of the line last read.
func (r *Reader) Line() int { return r.line }

// Next returns the next event. A bad line gives a *LineError and the next
// call goes on with the following line; the end gives io.EOF.
func (r *Reader) Next() (Event, error) {
	raw, err := r.Raw()
	if err != nil {
		return Event{}, err
	}
	ev, err := r.proj.Decode(raw)
	if err != nil {
		return Event{}, &LineError{Line: r.line, Err: err}
	}
	return ev, nil
}

// Raw returns the next non-blank line undecoded (valid until the next
// call; Line numbers it), so that callers can decode lines on several
// cores with Decode exactly as Next would. A line over MaxEventBytes gives
// a *LineError; the end gives io.EOF.
func (r *Reader) Raw() ([]byte, error) {
	for {
		raw, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(raw)) != 0 {
			return raw, nil
		}
	}
}

// Each calls fn with every event to the end of the stream, and bad, when it
// is not nil, with every bad line, which is then skipped. It stops at the
// first other error, of reading or of fn, and returns it; at the end it
// returns nil.
func (r *Reader) Each(fn func(Event) error, bad func(*LineError)) error {
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *LineError
		if errors.As(err, &le) {
			if bad != nil {
				bad(le)
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

var errTooLong = fmt.Errorf("line longer than %d bytes", MaxEventBytes)

func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.r.ReadSlice('\n')
		if !tooLong {
			r.buf = append(r.buf, chunk...)
			if len(r.buf) > MaxEventBytes+1 {
				tooLong, r.buf = true, r.buf[:0]
			}
		}
		switch {
		case err == nil:
			r.line++
			if tooLong {
				return nil, &LineError{Line: r.line, Err: errTooLong}
			}
			return bytes.TrimRight(r.buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.buf) == 0 && !tooLong {
				return nil, io.EOF
			}
			r.line++
			if tooLong {
				return nil, &LineError{Line: r.line, Err: errTooLong}
			}
			return r.buf, nil
		default:
			return nil, err
		}
	}
}
