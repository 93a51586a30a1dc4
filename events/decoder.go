package events

// A Decoder decodes events exactly as Decode does, except that an event
// whose `contact` object has, byte for byte, the JSON its contact's
// previous event carried (its contact_id read before it) gets the map
// decoded then, shared, instead of a new one; and the events of a contact
// share one contact_id string. A contact's events mostly carry the same
// contact object, and building its map (five keys and values, an e-mail
// address new to the table of repeated words) was about half of what
// decoding an event allocated: a backtest reads hundreds of thousands of
// events of a few thousand contacts. So the maps of events from a Decoder
// are read-only: nothing may change them. Decode (fresh maps, which a
// caller may change) stays what the live services use.
//
// A Decoder is not safe for concurrent use: one per goroutine. It
// remembers at most maxShared contacts; when full it starts over.
type Decoder struct {
	contacts contactCache
}

// NewDecoder returns a Decoder with an empty cache.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode is Decode, with shared contact maps.
func (d *Decoder) Decode(data []byte) (Event, error) { return decode(data, &d.contacts) }

// maxShared is how many contacts a Decoder remembers.
const maxShared = 1 << 16

// contactCache remembers, per contact id, the contact object the
// contact's last event carried: its JSON as it stood in the input and the
// map the scanner decoded from it.
type contactCache struct {
	m map[string]*seenContact
}

type seenContact struct {
	id  string // the key: one string for all the contact's events
	raw string // "" until an object was decoded
	obj map[string]any
}

// id is string(raw), a contact id, and what the cache knows of it.
func (c *contactCache) id(raw []byte) (string, *seenContact) {
	if e := c.m[string(raw)]; e != nil {
		return e.id, e
	}
	return string(raw), nil
}

// sharedContact scans the contact object at i into out, as object does.
// When the contact (as its contact_id, read before it, names it) carried
// the same bytes last time, the map decoded then is the value: obj
// consumed exactly those bytes from '{' to its '}', so it would consume
// and build the same again, and the bytes that follow them are left to
// the scanner as ever.
func (s *scanner) sharedContact(i int, out *scanned) int {
	d := s.data
	if e := s.seen; e != nil && e.raw != "" && len(d)-i >= len(e.raw) && string(d[i:i+len(e.raw)]) == e.raw {
		out.ev.Contact = e.obj
		return i + len(e.raw)
	}
	next := s.object(i, &out.ev.Contact)
	if next < 0 || out.ev.Contact == nil || !out.has[2] || s.seen == nil && out.strs[2] == "" {
		return next
	}
	e := s.seen
	if e == nil {
		c := s.contacts
		if c.m == nil || len(c.m) >= maxShared {
			c.m = make(map[string]*seenContact)
		}
		e = &seenContact{id: out.strs[2]}
		c.m[e.id] = e
		s.seen = e
	}
	e.raw, e.obj = string(d[i:next]), out.ev.Contact
	return next
}
