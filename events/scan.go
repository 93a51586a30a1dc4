package events

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is Decode's fast path: one pass over an event's bytes that
// fills the fixed top-level fields and builds properties and contact as
// encoding/json builds an `any`.
//
// It is written by hand because what the profile asked for is mostly not
// parsing but building: keys, values and maps. A general decoder
// (goccy/go-json, the former fast path) allocates every key and value anew
// through reflection, and decoders with a value tree of their own would
// still need a walk into maps; neither knows the fixed top-level schema or
// that the same few words come in every event (see internTable). The scheme
// keeps the scanner small: it accepts only what encoding/json accepts and
// decodes it to the same values, and anything else or anything unusual (a
// key that matches a field only case-insensitively, a non-string id, a
// number out of float64's range, trailing data...) makes it give up, so
// that decodeSlow gives the verdict and the error message. FuzzFastDecode
// holds it to that.
type scanner struct {
	data  []byte
	i     int
	depth int
}

// scanned is what the scanner read: the event's objects and its top-level
// strings, for validate to check as it checks decodeSlow's.
type scanned struct {
	ev   Event
	strs [5]string // id, type, contact_id, company_id, occurred_at
	has  [5]bool   // present and not null
	// at is occurred_at as it stands in the JSON, when that is also its
	// value, so that the common timestamp needs no string of its own.
	at []byte
}

// wire gives the top-level strings as decodeSlow's wire holds them, and
// parses occurred_at into out.ev where it has the usual form.
func (out *scanned) wire() (w wire, atParsed bool) {
	at := func(i int) *string {
		if out.has[i] {
			return &out.strs[i]
		}
		return nil
	}
	if out.at != nil {
		if out.ev.OccurredAt, atParsed = parseTimestamp(out.at); !atParsed {
			out.strs[4] = string(out.at)
		}
	}
	return wire{ID: at(0), Type: at(1), ContactID: at(2), CompanyID: at(3), OccurredAt: at(4)}, atParsed
}

// event scans data as one event into out; false means "ask decodeSlow".
func (s *scanner) event(data []byte, out *scanned) bool {
	s.data, s.i, s.depth = data, 0, 1
	s.space()
	if !s.consume('{') {
		return false
	}
	s.space()
	if s.consume('}') {
		return s.end()
	}
	for {
		key, plain, ok := s.rawKey()
		if !ok || !s.field(key, plain, out) {
			return false
		}
		s.space()
		if s.consume('}') {
			return s.end()
		}
		if !s.consume(',') {
			return false
		}
		s.space()
	}
}

// field scans the value of one top-level key. Duplicate keys: the last
// wins, as with encoding/json, and a null string field counts as missing.
func (s *scanner) field(key []byte, plain bool, out *scanned) bool {
	if !plain {
		key = unquote(key)
	}
	var slot int
	switch string(key) {
	case "id":
		slot = 0
	case "type":
		slot = 1
	case "contact_id":
		slot = 2
	case "company_id":
		slot = 3
	case "occurred_at":
		slot = 4
	case "properties":
		return s.object(&out.ev.Properties)
	case "contact":
		return s.object(&out.ev.Contact)
	default:
		// encoding/json also matches field names case-insensitively (with
		// Unicode folding); such keys are rare, so leave them to it.
		if foldsToField(key) {
			return false
		}
		_, ok := s.value()
		return ok
	}
	if slot == 4 {
		out.at = nil
	}
	if s.literal("null") {
		out.has[slot] = false
		return true
	}
	if s.peek() != '"' {
		return false // a type error for encoding/json
	}
	raw, plain, ok := s.str()
	switch {
	case !ok:
		return false
	case !plain:
		out.strs[slot] = string(unquote(raw))
	case slot == 0:
		out.strs[slot] = string(raw) // ids are unique: no use keeping them
	case slot == 4:
		out.at = raw
		out.strs[slot] = "" // made only if the timestamp is unusual
	default:
		out.strs[slot] = internString(raw)
	}
	out.has[slot] = true
	return true
}

// fieldNames are wire's JSON names.
var fieldNames = [...]string{"id", "type", "contact_id", "company_id", "occurred_at", "properties", "contact"}

func foldsToField(key []byte) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, name := range fieldNames {
		if strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}

// object scans properties or contact: an object or null, as decodeSlow's
// object() takes; anything else is its error to report.
func (s *scanner) object(dst *map[string]any) bool {
	if s.literal("null") {
		*dst = nil
		return true
	}
	if s.peek() != '{' {
		return false
	}
	m, ok := s.obj()
	*dst = m
	return ok
}

// end accepts only white space after the top-level object.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.data)
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.i >= len(lit) && string(s.data[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// key scans an object key and the colon after it.
func (s *scanner) key() (string, bool) {
	raw, plain, ok := s.rawKey()
	switch {
	case !ok:
		return "", false
	case plain:
		return internString(raw), true
	}
	return string(unquote(raw)), true
}

// rawKey scans an object key and the colon after it; raw and plain are as
// str gives them.
func (s *scanner) rawKey() (raw []byte, plain, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	if raw, plain, ok = s.str(); !ok {
		return nil, false, false
	}
	s.space()
	if !s.consume(':') {
		return nil, false, false
	}
	s.space()
	return raw, plain, true
}

// value scans any JSON value at s.i, as encoding/json decodes it into an
// `any`, and the white space after it.
func (s *scanner) value() (any, bool) {
	var v any
	ok := false
	switch c := s.peek(); {
	case c == '"':
		var raw []byte
		var plain bool
		if raw, plain, ok = s.str(); plain {
			v = internStringValue(raw)
		} else if ok {
			v = string(unquote(raw))
		}
	case c == '{':
		v, ok = s.obj()
	case c == '[':
		v, ok = s.array()
	case c == '-' || '0' <= c && c <= '9':
		v, ok = s.number()
	case s.literal("true"):
		v, ok = true, true
	case s.literal("false"):
		v, ok = false, true
	case s.literal("null"):
		v, ok = nil, true
	}
	s.space()
	return v, ok
}

// obj scans an object at s.i into a new map (never shared: callers may
// keep and change it). Duplicate keys: the last wins.
func (s *scanner) obj() (map[string]any, bool) {
	if s.depth++; s.depth > MaxDepth {
		return nil, false
	}
	s.i++ // '{'
	m := make(map[string]any)
	s.space()
	if s.consume('}') {
		s.depth--
		return m, true
	}
	for {
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		v, ok := s.value()
		if !ok {
			return nil, false
		}
		m[k] = v
		if s.consume('}') {
			s.depth--
			return m, true
		}
		if !s.consume(',') {
			return nil, false
		}
		s.space()
	}
}

// array scans an array at s.i; empty, it is a non-nil empty slice, as
// encoding/json makes it.
func (s *scanner) array() ([]any, bool) {
	if s.depth++; s.depth > MaxDepth {
		return nil, false
	}
	s.i++ // '['
	var buf [8]any
	items := buf[:0]
	s.space()
	if !s.consume(']') {
		for {
			v, ok := s.value()
			if !ok {
				return nil, false
			}
			items = append(items, v)
			if s.consume(']') {
				break
			}
			if !s.consume(',') {
				return nil, false
			}
			s.space()
		}
	}
	s.depth--
	out := make([]any, len(items))
	copy(out, items)
	return out, true
}

// number scans a number at s.i with JSON's grammar and converts it as
// encoding/json does (strconv.ParseFloat), giving up where that fails.
func (s *scanner) number() (any, bool) {
	d, start := s.data, s.i
	i := start
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		if i++; i == len(d) || d[i] < '0' || '9' < d[i] {
			return nil, false
		}
		i = digits(d, i)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i == len(d) || d[i] < '0' || '9' < d[i] {
			return nil, false
		}
		i = digits(d, i)
	}
	s.i = i
	return internNumber(d[start:i])
}

// digits is the index of the first non-digit at or after i.
func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// plainByte marks the bytes a string can hold as they are: not a quote, a
// backslash, a control character (invalid in JSON) or a non-ASCII byte
// (valid UTF-8 or not: encoding/json replaces invalid bytes).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipPlain is the index of the first byte at or after i that is not
// plain, looking at eight bytes at a time.
func skipPlain(d []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(d); i += 8 {
		w := binary.LittleEndian.Uint64(d[i:])
		q := w ^ (ones * '"')
		b := w ^ (ones * '\\')
		// Each term flags its kind of byte exactly at its first one and
		// maybe at bytes after it: the lowest flag is the first byte
		// that is not plain.
		m := ((q-ones)&^q | (b-ones)&^b | (w-ones*0x20)&^w | w) & highs
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(d) && plainByte[d[i]] {
		i++
	}
	return i
}

// str scans a string at s.i. raw is what stands between its quotes and,
// when plain, also its value: no escapes, valid UTF-8.
func (s *scanner) str() (raw []byte, plain, ok bool) {
	d := s.data
	start := s.i + 1
	i := skipPlain(d, start)
	if i < len(d) && d[i] == '"' {
		s.i = i + 1
		return d[start:i], true, true
	}
	// Escapes or non-ASCII bytes: find the closing quote, checking the
	// escapes as encoding/json's scanner does.
	escaped := false
	for ; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			s.i = i + 1
			raw := d[start:i]
			return raw, !escaped && utf8.Valid(raw), true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			i++
			if i == len(d) {
				return nil, false, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) || hex4(d[i+1:i+5]) < 0 {
					return nil, false, false
				}
				i += 4
			default:
				return nil, false, false
			}
		}
	}
	return nil, false, false
}

// unquote is encoding/json's unquote for a string whose escapes are known
// to be well-formed: invalid UTF-8 and lone surrogates become U+FFFD.
func unquote(s []byte) []byte {
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := rune(hex4(s[r+1 : r+5]))
				r += 5
				if utf16.IsSurrogate(rr) {
					rr1 := rune(-1)
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						rr1 = rune(hex4(s[r+2 : r+6]))
					}
					if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return b
}

// hex4 is the value of four hex digits, or -1.
func hex4(h []byte) int {
	v := 0
	for _, c := range h[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | int(c)
	}
	return v
}
