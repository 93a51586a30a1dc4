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
// It is written by hand because the cost is mostly not parsing but
// building: keys, values and maps. goccy/go-json (the former fast path)
// allocates every key and value anew; so do valyala/fastjson and
// buger/jsonparser once their results are walked into maps (measured on
// the benchmark's events: about goccy's time, 28 allocations an event),
// and none knows the fixed top-level schema or that the same few words
// come in every event (see internTable). The scheme keeps the scanner
// small: it accepts only what encoding/json accepts and decodes it to the
// same values, and anything else or anything unusual (a key that matches
// a field only case-insensitively, a non-string id, a number out of
// float64's range, trailing data...) makes it give up, so that decodeSlow
// gives the verdict and the error message. FuzzFastDecode holds it to
// that.
type scanner struct {
	data  []byte
	depth int
	proj  *Projection // nil: keep every key of properties and contact
	// keep (DecodeKeepJSON) makes the scan also check, as it goes, that
	// the text of properties and contact is what encoding/json writes for
	// the decoded object (canonicalObject's rules): canon turns false at
	// the first thing it would write otherwise.
	keep, canon bool
}

// Each scanning method takes the index where its token starts and gives
// the index after it, or -1 where the scanner gives up.

// scanned is what the scanner read: the event's objects and its top-level
// strings, for validate to check as it checks decodeSlow's.
type scanned struct {
	ev   Event
	strs [5]string // id, type, contact_id, company_id, occurred_at
	has  [5]bool   // present and not null
	// at is occurred_at as it stands in the JSON, when that is also its
	// value, so that the common timestamp needs no string of its own.
	at []byte
	// props and contact, with keep, are the text of the decoded objects
	// where it is encoding/json's encoding of them (the last occurrence
	// of the key is the one decoded); nil otherwise.
	props, contact []byte
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
	s.data, s.depth = data, 1
	d := data
	i := space(d, 0)
	if i == len(d) || d[i] != '{' {
		return false
	}
	i = space(d, i+1)
	if i < len(d) && d[i] == '}' {
		return space(d, i+1) == len(d)
	}
	for {
		if i == len(d) || d[i] != '"' {
			return false
		}
		end, plain := str(d, i)
		if end < 0 {
			return false
		}
		key := d[i+1 : end]
		if !plain {
			key = unquote(key)
		}
		if i = s.field(key, colon(d, end+1), out); i < 0 {
			return false
		}
		if i = space(d, i); i == len(d) {
			return false
		}
		switch d[i] {
		case '}':
			// Only white space may follow the top-level object.
			return space(d, i+1) == len(d)
		case ',':
			i = space(d, i+1)
		default:
			return false
		}
	}
}

// field scans the value (at i) of one top-level key. Duplicate keys: the
// last wins, as with encoding/json, and a null string field counts as
// missing.
func (s *scanner) field(key []byte, i int, out *scanned) int {
	if i < 0 {
		return -1
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
		if s.proj != nil {
			return s.object(i, &out.ev.Properties, &s.proj.properties)
		}
		return s.keptObject(i, &out.ev.Properties, &out.props)
	case "contact":
		if s.proj != nil {
			return s.object(i, &out.ev.Contact, &s.proj.contact)
		}
		return s.keptObject(i, &out.ev.Contact, &out.contact)
	default:
		// encoding/json also matches field names case-insensitively (with
		// Unicode folding); such keys are rare, so leave them to it.
		if foldsToField(key) {
			return -1
		}
		return s.drop(i)
	}
	d := s.data
	if slot == 4 {
		out.at = nil
	}
	if literal(d, i, "null") {
		out.has[slot] = false
		return i + len("null")
	}
	if i == len(d) || d[i] != '"' {
		return -1 // a type error for encoding/json
	}
	end, plain := str(d, i)
	if end < 0 {
		return -1
	}
	raw := d[i+1 : end]
	switch {
	case !plain:
		out.strs[slot] = string(unquote(raw))
	case slot == 1:
		out.strs[slot] = internString(raw) // there are a few types
	case slot == 4:
		out.at = raw
		out.strs[slot] = "" // made only if the timestamp is unusual
	default:
		// As many ids as events, as many contact and company ids as
		// contacts and companies: no use keeping them.
		out.strs[slot] = string(raw)
	}
	out.has[slot] = true
	return end + 1
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

// keptObject is object that, with keep, sets *text to the object's text
// where it is canonical, else to nil.
func (s *scanner) keptObject(i int, dst *map[string]any, text *[]byte) int {
	if !s.keep {
		return s.object(i, dst, nil)
	}
	s.canon = true
	end := s.object(i, dst, nil)
	*text = nil
	if end >= 0 && s.canon && s.data[i] == '{' {
		*text = s.data[i:end]
	}
	return end
}

// object scans properties or contact: an object or null, as decodeSlow's
// object() takes; anything else is its error to report. keys, when not
// nil, are the keys to keep.
func (s *scanner) object(i int, dst *map[string]any, keys *keySet) int {
	d := s.data
	if literal(d, i, "null") {
		*dst = nil
		return i + len("null")
	}
	if i == len(d) || d[i] != '{' {
		return -1
	}
	if keys != nil {
		*dst, i = s.objProjected(i, keys)
	} else {
		*dst, i = s.obj(i)
	}
	return i
}

// space is the index of the first byte at or after i that is not JSON's
// white space.
func space(d []byte, i int) int {
	for i < len(d) && d[i] <= ' ' && (d[i] == ' ' || d[i] == '\n' || d[i] == '\t' || d[i] == '\r') {
		i++
	}
	return i
}

// colon is the index after the colon (and white space) that follows a
// key, or -1.
func colon(d []byte, i int) int {
	if i = space(d, i); i == len(d) || d[i] != ':' {
		return -1
	}
	return space(d, i+1)
}

func literal(d []byte, i int, lit string) bool {
	return len(d)-i >= len(lit) && string(d[i:i+len(lit)]) == lit
}

// value scans any JSON value at i, as encoding/json decodes it into an
// `any`.
func (s *scanner) value(i int) (any, int) {
	d := s.data
	if i == len(d) {
		return nil, -1
	}
	switch c := d[i]; {
	case c == '"':
		end, plain := str(d, i)
		switch {
		case end < 0:
			return nil, -1
		case plain:
			if s.keep && s.canon {
				s.canon = canonicalText(d[i+1 : end])
			}
			return internStringValue(d[i+1 : end]), end + 1
		}
		s.canon = false // an escape: encoding/json may write it otherwise
		return string(unquote(d[i+1 : end])), end + 1
	case c == '{':
		return s.obj(i)
	case c == '[':
		return s.array(i)
	case c == '-' || '0' <= c && c <= '9':
		v, end := s.number(i)
		if s.keep && s.canon && end >= 0 {
			s.canon = canonicalNumberText(d[i:end])
		}
		return v, end
	case literal(d, i, "true"):
		return true, i + len("true")
	case literal(d, i, "false"):
		return false, i + len("false")
	case literal(d, i, "null"):
		return nil, i + len("null")
	}
	return nil, -1
}

// obj scans an object at i into a new map (never shared: callers may
// keep and change it). Duplicate keys: the last wins.
func (s *scanner) obj(i int) (map[string]any, int) {
	if s.depth++; s.depth > MaxDepth {
		return nil, -1
	}
	d := s.data
	m := make(map[string]any)
	open := i
	i = space(d, i+1)
	if s.keep && i != open+1 {
		s.canon = false // white space
	}
	if i < len(d) && d[i] == '}' {
		s.depth--
		return m, i + 1
	}
	var prev []byte // the last key, with keep: keys must come in byte order
	for {
		if i == len(d) || d[i] != '"' {
			return nil, -1
		}
		end, plain := str(d, i)
		if end < 0 {
			return nil, -1
		}
		var k string
		if plain {
			raw := d[i+1 : end]
			k = internString(raw)
			if s.keep && s.canon {
				// Sorted, no duplicate, nothing encoding/json escapes.
				s.canon = (prev == nil || string(prev) < string(raw)) && canonicalText(raw)
				prev = raw
			}
		} else {
			k = string(unquote(d[i+1 : end]))
			s.canon = false
		}
		if i = end + 1; i < len(d) && d[i] == ':' { // as encoding/json writes it
			at := i + 1
			if i = space(d, at); s.keep && i != at {
				s.canon = false
			}
		} else if i = colon(d, i); i < 0 {
			return nil, -1
		} else {
			s.canon = false // white space before the colon
		}
		var v any
		if v, i = s.value(i); i < 0 {
			return nil, -1
		}
		m[k] = v
		if at := i; s.keep {
			if i = space(d, i); i != at {
				s.canon = false
			}
		} else {
			i = space(d, i)
		}
		if i == len(d) {
			return nil, -1
		}
		switch d[i] {
		case '}':
			s.depth--
			return m, i + 1
		case ',':
			at := i + 1
			if i = space(d, at); s.keep && i != at {
				s.canon = false
			}
		default:
			return nil, -1
		}
	}
}

// array scans an array at i; empty, it is a non-nil empty slice, as
// encoding/json makes it.
func (s *scanner) array(i int) ([]any, int) {
	if s.depth++; s.depth > MaxDepth {
		return nil, -1
	}
	d := s.data
	var buf [8]any
	items := buf[:0]
	at := i + 1
	if i = space(d, at); s.keep && i != at {
		s.canon = false
	}
	if i < len(d) && d[i] == ']' {
		i++
	} else {
		for {
			var v any
			if v, i = s.value(i); i < 0 {
				return nil, -1
			}
			items = append(items, v)
			at := i
			if i = space(d, i); s.keep && i != at {
				s.canon = false
			}
			if i == len(d) {
				return nil, -1
			}
			if d[i] == ']' {
				i++
				break
			}
			if d[i] != ',' {
				return nil, -1
			}
			at = i + 1
			if i = space(d, at); s.keep && i != at {
				s.canon = false
			}
		}
	}
	s.depth--
	out := make([]any, len(items))
	copy(out, items)
	return out, i
}

// number scans a number at i with JSON's grammar and converts it as
// encoding/json does (strconv.ParseFloat), giving up where that fails.
func (s *scanner) number(start int) (any, int) {
	i, _, _ := numberEnd(s.data, start)
	if i < 0 {
		return nil, -1
	}
	v, ok := internNumber(s.data[start:i])
	if !ok {
		return nil, -1
	}
	return v, i
}

// numberEnd is the end of the number at start by JSON's grammar (-1 where
// it breaks the grammar), with the length of its sign and integer part
// and whether it has an exponent.
func numberEnd(d []byte, start int) (end, whole int, exp bool) {
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
		return -1, 0, false
	}
	whole = i - start
	if i < len(d) && d[i] == '.' {
		if i++; i == len(d) || d[i] < '0' || '9' < d[i] {
			return -1, 0, false
		}
		i = digits(d, i)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		exp = true
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i == len(d) || d[i] < '0' || '9' < d[i] {
			return -1, 0, false
		}
		i = digits(d, i)
	}
	return i, whole, exp
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

// str scans the string whose opening quote is at i. end is the index of
// its closing quote, or -1 where it is not a valid JSON string; plain says
// that what stands between the quotes is also its value (no escapes,
// valid UTF-8).
func str(d []byte, i int) (end int, plain bool) {
	// Eight bytes at a time while they are plain. Each term of m flags
	// its kind of byte exactly at its first one and maybe at bytes after
	// it, so the lowest flag is the first byte that is not plain.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i++; i+8 <= len(d); i += 8 {
		w := binary.LittleEndian.Uint64(d[i:])
		q := w ^ (ones * '"')
		b := w ^ (ones * '\\')
		if m := ((q-ones)&^q | (b-ones)&^b | (w - ones*0x20) | w) & highs; m != 0 {
			if i += bits.TrailingZeros64(m) / 8; d[i] == '"' {
				return i, true
			}
			return strRest(d, i)
		}
	}
	for i < len(d) && plainByte[d[i]] {
		i++
	}
	if i < len(d) && d[i] == '"' {
		return i, true
	}
	return strRest(d, i)
}

// strRest goes on with str from the first byte that is not plain: it
// finds the closing quote, checking the escapes as encoding/json's scanner
// does.
func strRest(d []byte, i int) (end int, plain bool) {
	start, escaped := i, false
	for ; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			return i, !escaped && utf8.Valid(d[start:i])
		case c < 0x20:
			return -1, false
		case c == '\\':
			escaped = true
			if i++; i == len(d) {
				return -1, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) || hex4(d[i+1:i+5]) < 0 {
					return -1, false
				}
				i += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
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
