package events

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// Projection names the keys of properties and contact a reader of events
// needs (the rules read a handful of the dozens an event may carry), so
// that Decode can leave the rest out of the maps it builds: building keys,
// values and maps is most of decoding's cost. The event, or the error, is
// otherwise Decode's: every skipped value is still checked as Decode
// checks it, so a line Decode refuses is refused with the same message,
// and an object that is there gives a map (empty when it holds none of
// the keys), one that is null or absent none. Its maps may be another
// projected event's too (see sharedObject): they must not be changed.
//
// A nil *Projection keeps everything. A Projection is read-only once
// made and safe for concurrent use.
type Projection struct {
	properties, contact keySet
}

// NewProjection keeps the given keys of properties and of contact.
func NewProjection(properties, contact []string) *Projection {
	return &Projection{properties: newKeySet(properties), contact: newKeySet(contact)}
}

// Properties and Contact list the keys kept, sorted.
func (p *Projection) Properties() []string { return slices.Clone(p.properties.keys) }
func (p *Projection) Contact() []string    { return slices.Clone(p.contact.keys) }

// Decode is Decode keeping only p's keys of the objects.
func (p *Projection) Decode(data []byte) (Event, error) {
	if p == nil {
		return Decode(data)
	}
	ev, _, err := decode(data, p, false)
	return ev, err
}

// Apply leaves only p's keys in ev's objects (new maps; ev's are not
// changed): what p.Decode gives for the line ev was decoded from.
func (p *Projection) Apply(ev *Event) {
	if p == nil {
		return
	}
	ev.Properties = p.properties.filter(ev.Properties)
	ev.Contact = p.contact.filter(ev.Contact)
}

// keySet is a few keys, looked up by length then bytes: there are too few
// for a hash to pay.
type keySet struct {
	keys  []string // sorted, no repeats
	byLen map[int][]string
	short [32][]string // keys of each length under 32
}

func newKeySet(keys []string) keySet {
	ks := keySet{keys: slices.Compact(slices.Sorted(slices.Values(keys))), byLen: map[int][]string{}}
	for _, k := range ks.keys {
		if len(k) < len(ks.short) {
			ks.short[len(k)] = append(ks.short[len(k)], k)
		} else {
			ks.byLen[len(k)] = append(ks.byLen[len(k)], k)
		}
	}
	return ks
}

// find is the kept key equal to k, if any.
func (ks *keySet) find(k []byte) (string, bool) {
	var list []string
	if len(k) < len(ks.short) {
		list = ks.short[len(k)]
	} else {
		list = ks.byLen[len(k)]
	}
	for _, x := range list {
		if x == string(k) {
			return x, true
		}
	}
	return "", false
}

func (ks *keySet) filter(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any)
	for _, k := range ks.keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// objProjected and the drop methods scan as obj, value, array and number
// do, giving up at exactly the same bytes (FuzzProjectedDecode holds them
// to it), but build only what the projection keeps.

// objProjected is obj keeping only keys' keys in the map it makes, or
// giving the map of an earlier object that held the same kept keys with
// the same bytes (see sharedObject).
func (s *scanner) objProjected(i int, keys *keySet) (map[string]any, int) {
	if s.depth++; s.depth > MaxDepth {
		return nil, -1
	}
	d := s.data
	i = space(d, i+1)
	if i < len(d) && d[i] == '}' {
		s.depth--
		return make(map[string]any), i + 1
	}
	// The kept members, and their signature: each one's key and the bytes
	// of its value, in order, each preceded by its length.
	var spanBuf [maxSharedKeys]keptSpan
	spans := spanBuf[:0]
	var sigBuf [maxSigBytes]byte
	sig := sigBuf[:0]
	shareable := true
	for {
		if i == len(d) || d[i] != '"' {
			return nil, -1
		}
		end, plain := str(d, i)
		if end < 0 {
			return nil, -1
		}
		raw := d[i+1 : end]
		if !plain {
			raw = unquote(raw)
		}
		k, keep := keys.find(raw)
		if i = end + 1; i < len(d) && d[i] == ':' {
			i = space(d, i+1)
		} else if i = colon(d, i); i < 0 {
			return nil, -1
		}
		start := i
		if i = s.drop(i); i < 0 {
			return nil, -1
		}
		if keep {
			spans = append(spans, keptSpan{k, start})
			if shareable && len(sig)+len(k)+(i-start)+2*binary.MaxVarintLen64 > cap(sig) {
				shareable = false
			}
			if shareable {
				sig = binary.AppendUvarint(sig, uint64(len(k)))
				sig = append(sig, k...)
				sig = binary.AppendUvarint(sig, uint64(i-start))
				sig = append(sig, d[start:i]...)
			}
		}
		if i = space(d, i); i == len(d) {
			return nil, -1
		}
		switch d[i] {
		case '}':
			var m map[string]any
			if shareable {
				m = s.sharedObject(spans, sig)
			} else {
				m = s.build(spans)
			}
			if m == nil {
				return nil, -1
			}
			s.depth--
			return m, i + 1
		case ',':
			i = space(d, i+1)
		default:
			return nil, -1
		}
	}
}

// keptSpan is a kept member of an object: its key and where its value
// starts.
type keptSpan struct {
	key   string
	value int
}

// build makes the map of the kept members (the last of a key wins). Their
// values were checked: decoding them cannot fail, nil is for safety.
func (s *scanner) build(spans []keptSpan) map[string]any {
	m := make(map[string]any, len(spans))
	for _, sp := range spans {
		v, end := s.value(sp.value)
		if end < 0 {
			return nil
		}
		m[sp.key] = v
	}
	return m
}

// drop scans any JSON value at i as value does, building nothing: it
// takes and refuses what value takes and refuses.
func (s *scanner) drop(i int) int {
	d := s.data
	if i == len(d) {
		return -1
	}
	switch c := d[i]; {
	case c == '"':
		if end, _ := str(d, i); end >= 0 {
			return end + 1
		}
		return -1
	case c == '{':
		return s.dropObj(i)
	case c == '[':
		return s.dropArray(i)
	case c == '-' || '0' <= c && c <= '9':
		return dropNumber(d, i)
	case literal(d, i, "true"):
		return i + len("true")
	case literal(d, i, "false"):
		return i + len("false")
	case literal(d, i, "null"):
		return i + len("null")
	}
	return -1
}

// dropObj is obj building nothing.
func (s *scanner) dropObj(i int) int {
	if s.depth++; s.depth > MaxDepth {
		return -1
	}
	d := s.data
	i = space(d, i+1)
	if i < len(d) && d[i] == '}' {
		s.depth--
		return i + 1
	}
	for {
		if i == len(d) || d[i] != '"' {
			return -1
		}
		end, _ := str(d, i)
		if end < 0 {
			return -1
		}
		if i = end + 1; i < len(d) && d[i] == ':' {
			i = space(d, i+1)
		} else if i = colon(d, i); i < 0 {
			return -1
		}
		if i = s.drop(i); i < 0 {
			return -1
		}
		if i = space(d, i); i == len(d) {
			return -1
		}
		switch d[i] {
		case '}':
			s.depth--
			return i + 1
		case ',':
			i = space(d, i+1)
		default:
			return -1
		}
	}
}

// dropArray is array building nothing.
func (s *scanner) dropArray(i int) int {
	if s.depth++; s.depth > MaxDepth {
		return -1
	}
	d := s.data
	i = space(d, i+1)
	if i < len(d) && d[i] == ']' {
		s.depth--
		return i + 1
	}
	for {
		if i = s.drop(i); i < 0 {
			return -1
		}
		if i = space(d, i); i == len(d) {
			return -1
		}
		if d[i] == ']' {
			s.depth--
			return i + 1
		}
		if d[i] != ',' {
			return -1
		}
		i = space(d, i+1)
	}
}

// maxSafeDigits is the most digits a number without an exponent may have
// and certainly be in float64's range (under 1e308): only a longer one,
// or one with an exponent, needs strconv to tell.
const maxSafeDigits = 308

// dropNumber is number building nothing: the same grammar, and a number
// out of float64's range refused as strconv.ParseFloat refuses it.
func dropNumber(d []byte, start int) int {
	i, whole, exp := numberEnd(d, start)
	if i < 0 {
		return -1
	}
	if exp || whole > maxSafeDigits {
		// Underflow is no error for ParseFloat (it gives 0); overflow is.
		if _, err := strconv.ParseFloat(string(d[start:i]), 64); err != nil {
			return -1
		}
	}
	return i
}
