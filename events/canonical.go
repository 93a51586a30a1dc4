package events

import (
	"bytes"
	"strconv"
)

// DecodeKeepJSON is Decode that also keeps the text of properties and
// contact (PropertiesJSON, ContactJSON) where it is already what
// encoding/json writes for the decoded object: a caller that stores that
// text (the touch history) then copies it instead of encoding the maps
// again. Producers that encode with encoding/json (or goccy/go-json)
// write exactly that; anything else (white space, keys out of order, an
// escape, a float written another way) leaves the field empty.
func DecodeKeepJSON(data []byte) (Event, error) {
	ev, kept, err := decode(data, nil, true)
	if kept || err != nil || (len(ev.Properties) == 0 && len(ev.Contact) == 0) {
		return ev, err
	}
	// decodeSlow's event (the scanner gave up): find the text and check
	// it in a second pass.
	var s scanner
	s.data = data
	props, contact := s.topSpans()
	if len(ev.Properties) > 0 && props != nil && canonicalObject(props) {
		ev.PropertiesJSON = string(props)
	}
	if len(ev.Contact) > 0 && contact != nil && canonicalObject(contact) {
		ev.ContactJSON = string(contact)
	}
	return ev, nil
}

// canonicalText says whether the bytes of a plain string (no escapes,
// valid UTF-8) are what encoding/json writes for it: nothing it escapes
// for HTML ('<', '>', '&', U+2028, U+2029).
func canonicalText(b []byte) bool {
	for j := 0; j < len(b); j++ {
		switch b[j] {
		case '<', '>', '&':
			return false
		case 0xE2: // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
			if j+2 < len(b) && b[j+1] == 0x80 && (b[j+2] == 0xA8 || b[j+2] == 0xA9) {
				return false
			}
		}
	}
	return true
}

// canonicalNumberText says whether a JSON number is what encoding/json
// writes for its float64: an integer of up to 15 digits without a leading
// zero always is; anything else is printed back to be compared.
func canonicalNumberText(b []byte) bool {
	d := b
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) > 0 && len(d) <= 15 && (d[0] != '0' || len(d) == 1) {
		plain := true
		for _, c := range d {
			if c < '0' || '9' < c {
				plain = false
				break
			}
		}
		if plain {
			return true
		}
	}
	end, ok := canonicalNumber(b, 0)
	return ok && end == len(b)
}

// topSpans finds the text of the top-level properties and contact values
// of a document Decode accepted; nil where absent, or where a key occurs
// twice (the last wins in the decoded event: leave such text alone).
func (s *scanner) topSpans() (props, contact []byte) {
	d := s.data
	i := space(d, 0)
	if i == len(d) || d[i] != '{' {
		return nil, nil
	}
	i = space(d, i+1)
	seenP, seenC := false, false
	for i < len(d) && d[i] == '"' {
		end, plain := str(d, i)
		if end < 0 {
			return nil, nil
		}
		key := d[i+1 : end]
		if i = colon(d, end+1); i < 0 {
			return nil, nil
		}
		start := i
		if i = s.skip(i); i < 0 {
			return nil, nil
		}
		switch {
		case !plain || !exactField(key) && foldsToField(key):
			// encoding/json matches keys case-insensitively: such a key
			// may be the one decoded. Leave both alone.
			return nil, nil
		case string(key) == "properties":
			if seenP {
				props = nil
			} else {
				props = d[start:i]
			}
			seenP = true
		case string(key) == "contact":
			if seenC {
				contact = nil
			} else {
				contact = d[start:i]
			}
			seenC = true
		}
		if i = space(d, i); i < len(d) && d[i] == ',' {
			i = space(d, i+1)
		}
	}
	return props, contact
}

// skip is the index after the JSON value at i, which Decode accepted.
func (s *scanner) skip(i int) int {
	d := s.data
	if i == len(d) {
		return -1
	}
	switch c := d[i]; {
	case c == '"':
		end, _ := str(d, i)
		if end < 0 {
			return -1
		}
		return end + 1
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				end, _ := str(d, i)
				if end < 0 {
					return -1
				}
				i = end
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default:
		for i < len(d) && d[i] != ',' && d[i] != '}' && d[i] != ']' && d[i] != ' ' && d[i] != '\n' && d[i] != '\t' && d[i] != '\r' {
			i++
		}
		return i
	}
}

// canonicalObject says whether b, a JSON object Decode accepted, is
// byte for byte what encoding/json.Marshal writes for its decoded value
// (map keys sorted, no white space, HTML characters and U+2028/U+2029
// escaped, numbers as float64 prints them). It errs on the side of no.
func canonicalObject(b []byte) bool {
	end, ok := canonicalValue(b, 0, 0)
	return ok && end == len(b) && b[0] == '{'
}

func canonicalValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > MaxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, ok := canonicalString(b, i)
		return end, ok
	case c == '{':
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			end, ok := canonicalString(b, i)
			if !ok {
				return i, false
			}
			key := b[i+1 : end-1]
			if prev != nil && bytes.Compare(prev, key) >= 0 {
				return i, false // out of order, or a duplicate
			}
			prev = key
			if end >= len(b) || b[end] != ':' {
				return i, false
			}
			if i, ok = canonicalValue(b, end+1, depth+1); !ok || i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonicalValue(b, i, depth+1); !ok || i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
		return i + 4, true
	case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
		return i + 5, true
	case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
		return i + 4, true
	case c == '-' || '0' <= c && c <= '9':
		return canonicalNumber(b, i)
	}
	return i, false
}

// canonicalString accepts a string without escapes whose bytes encoding/json
// writes as they are: printable ASCII but for '<', '>' and '&', and valid
// UTF-8 but for U+2028 and U+2029. end is after the closing quote.
func canonicalString(b []byte, i int) (int, bool) {
	end, plain := str(b, i)
	if end < 0 || !plain {
		return i, false
	}
	if !canonicalText(b[i+1 : end]) {
		return i, false
	}
	return end + 1, true
}

// canonicalNumber accepts a number that float64 prints back the same, as
// encoding/json prints it.
func canonicalNumber(b []byte, i int) (int, bool) {
	start := i
	for i < len(b) && (b[i] == '-' || b[i] == '+' || b[i] == '.' || b[i] == 'e' || b[i] == 'E' || '0' <= b[i] && b[i] <= '9') {
		i++
	}
	raw := b[start:i]
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return i, false
	}
	var buf [32]byte
	return i, bytes.Equal(appendJSONFloat(buf[:0], f), raw)
}

// appendJSONFloat is encoding/json's float64 encoding.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func exactField(key []byte) bool {
	for _, name := range fieldNames {
		if string(key) == name {
			return true
		}
	}
	return false
}
