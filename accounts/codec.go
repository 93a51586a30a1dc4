package accounts

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/rules"
)

// binaryFormat is the first byte of the compact binary form the live
// scorer writes changes, trackers and company state in (never '{'); then
// come fields as uvarint-prefixed strings and varints. Decoders also read
// the JSON form written before it (a value starting with '{'), so topics
// written by an older scorer stay readable.
const binaryFormat = 0xB1

var errShort = errors.New("truncated binary record")

type writer struct{ b []byte }

func (w *writer) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

// strMap writes a map sorted by key, so equal maps encode alike.
func strMap[V any](w *writer, m map[string]V, val func(V)) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		val(m[k])
	}
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a length, bounded by the bytes left (each element takes at
// least one), so a corrupt length cannot allocate without bound.
func (r *reader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.err = errShort
		return 0
	}
	return int(n)
}

func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the record", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	return nil
}

func open(data []byte, v any, what string) (*reader, bool, error) {
	if len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, v); err != nil {
			return nil, true, fmt.Errorf("%s: %w", what, err)
		}
		return nil, true, nil
	}
	if len(data) == 0 || data[0] != binaryFormat {
		return nil, false, fmt.Errorf("%s: unknown format", what)
	}
	return &reader{b: data[1:]}, false, nil
}

func (w *writer) member(m *Member) {
	w.str(m.ContactID)
	w.str(m.CompanyID)
	w.uint(uint64(m.Seq))
	strMap(w, m.Scores, func(p rules.Points) { w.int(int64(p)) })
	strMap(w, m.Props, func(v string) { w.str(v) })
}

func (r *reader) member(m *Member) {
	m.ContactID, m.CompanyID, m.Seq = r.str(), r.str(), uint32(r.uint())
	if n := r.count(); n > 0 {
		m.Scores = make(map[string]rules.Points, n)
		for range n {
			k := r.str()
			m.Scores[k] = rules.Points(r.int())
		}
	}
	if n := r.count(); n > 0 {
		m.Props = make(map[string]string, n)
		for range n {
			k := r.str()
			m.Props[k] = r.str()
		}
	}
}

// AppendChange appends ch's binary form to buf.
func AppendChange(buf []byte, ch *Change) []byte {
	w := writer{append(buf, binaryFormat)}
	w.str(ch.To)
	w.member(&ch.Member)
	w.str(ch.EventID)
	w.int(ch.At.UnixNano())
	w.str(ch.Forget)
	return w.b
}

// DecodeChange reads a change, binary or JSON.
func DecodeChange(data []byte) (Change, error) {
	var ch Change
	r, _, err := open(data, &ch, "change")
	if r == nil {
		return ch, err
	}
	ch.To = r.str()
	r.member(&ch.Member)
	ch.EventID = r.str()
	ch.At = time.Unix(0, r.int()).UTC()
	ch.Forget = r.str()
	return ch, r.done("change")
}

// AppendTracker appends t's binary form to buf.
func AppendTracker(buf []byte, t *Tracker) []byte {
	w := writer{append(buf, binaryFormat)}
	keyed := func(k Keyed) {
		w.str(k.Value)
		w.int(k.At)
		w.str(k.EventID)
	}
	keyed(t.Company)
	strMap(&w, t.Props, keyed)
	w.uint(uint64(len(t.Sent)))
	for _, s := range t.Sent {
		w.str(s)
	}
	return w.b
}

// DecodeTracker reads a tracker, binary or JSON.
func DecodeTracker(data []byte) (Tracker, error) {
	var t Tracker
	r, _, err := open(data, &t, "tracker")
	if r == nil {
		return t, err
	}
	keyed := func() Keyed { return Keyed{Value: r.str(), At: r.int(), EventID: r.str()} }
	t.Company = keyed()
	if n := r.count(); n > 0 {
		t.Props = make(map[string]Keyed, n)
		for range n {
			k := r.str()
			t.Props[k] = keyed()
		}
	}
	if n := r.count(); n > 0 {
		t.Sent = make([]string, n)
		for i := range t.Sent {
			t.Sent[i] = r.str()
		}
	}
	return t, r.done("tracker")
}

// AppendMember appends a company's view of one contact (a record of the
// company changelog keyed by company and contact).
func AppendMember(buf []byte, m *Member) []byte {
	w := writer{append(buf, binaryFormat)}
	w.member(m)
	return w.b
}

// DecodeMember reads a view written by AppendMember.
func DecodeMember(data []byte) (Member, error) {
	var m Member
	r, _, err := open(data, &m, "member")
	if r == nil {
		return m, err
	}
	r.member(&m)
	return m, r.done("member")
}

// AppendStanding appends a company's standing: when its scores are as of
// (Aggregate.Latest) and its standing in each company model (the company
// changelog's record keyed by the company alone).
func AppendStanding(buf []byte, agg *Aggregate) []byte {
	w := writer{append(buf, binaryFormat)}
	w.int(agg.Latest)
	strMap(&w, agg.Models, func(st *ModelState) {
		w.int(int64(st.Score))
		w.uint(uint64(len(st.Disarmed)))
		for _, d := range st.Disarmed {
			if d {
				w.b = append(w.b, 1)
			} else {
				w.b = append(w.b, 0)
			}
		}
		w.uint(uint64(len(st.CrossedAt)))
		for _, at := range st.CrossedAt {
			w.int(at)
		}
	})
	return w.b
}

// DecodeCompany reads the company changelog's record keyed by the company:
// the binary form holds its standing only (AppendStanding) (whole is false: its
// contacts are records of their own); the JSON form written before is a
// whole Aggregate (whole is true).
func DecodeCompany(data []byte) (agg Aggregate, whole bool, err error) {
	r, whole, err := open(data, &agg, "company")
	if r == nil {
		return agg, whole, err
	}
	agg.Latest = r.int()
	n := r.count()
	agg.Models = make(map[string]*ModelState, n)
	for range n {
		name := r.str()
		st := &ModelState{Score: rules.Points(r.int())}
		if k := r.count(); k > 0 {
			st.Disarmed = make([]bool, k)
			for i := range st.Disarmed {
				if len(r.b) == 0 {
					r.err = errShort
					break
				}
				st.Disarmed[i] = r.b[0] == 1
				r.b = r.b[1:]
			}
		}
		if k := r.count(); k > 0 {
			st.CrossedAt = make([]int64, k)
			for i := range st.CrossedAt {
				st.CrossedAt[i] = r.int()
			}
		}
		agg.Models[name] = st
	}
	return agg, false, r.done("company")
}
