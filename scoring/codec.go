package scoring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/scorebridge/scorebridge/rules"
)

// A contact's state is saved (snapshots, changelog) with each group named
// by a fingerprint of its model, name and definition rather than by its
// index, so state written under one rule version loads under another: a
// group whose definition is unchanged keeps its state; a changed, new or
// removed group starts empty (its state would be wrong under the new
// definition; `scorer rescore` rebuilds it from history).

const codecVersion = 1

func groupPrint(m *rules.Model, g *rules.Group) uint64 {
	h := xxhash.New()
	for _, s := range []string{m.Name, g.Name, g.When, g.Points, optPoints(g.Max), optPoints(g.Min),
		g.Window.String(), strconv.FormatBool(g.Repeatable), m.HalfLife.String()} {
		h.WriteString(s)
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func thresholdPrint(m *rules.Model, t rules.Threshold) uint64 {
	return xxhash.Sum64String(m.Name + "\x00" + t.Name)
}

func optPoints(p *rules.Points) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

// prints indexes the engine's fingerprints.
type prints struct {
	groups     map[uint64]ref
	groupOf    [][]uint64 // [model][group]
	thresholds map[uint64]int
	thOf       []uint64 // by threshold bit
}

func (e *Engine) prints() *prints {
	e.printsOnce.Do(func() {
		p := &prints{groups: map[uint64]ref{}, thresholds: map[uint64]int{}}
		for mi, m := range e.Rules.Models {
			var gs []uint64
			for gi, g := range m.Groups {
				fp := groupPrint(m, g)
				p.groups[fp] = ref{uint16(mi), uint16(gi)}
				gs = append(gs, fp)
			}
			p.groupOf = append(p.groupOf, gs)
			for k, t := range m.Thresholds {
				fp := thresholdPrint(m, t)
				p.thresholds[fp] = e.thresholdBase[mi] + k
				p.thOf = append(p.thOf, fp)
			}
		}
		e.print = p
	})
	return e.print
}

// Encode appends c's state to dst.
func (e *Engine) Encode(dst []byte, c *Contact) []byte {
	p := e.prints()
	dst = append(dst, codecVersion)
	dst = binary.AppendVarint(dst, c.Latest)
	dst = binary.AppendUvarint(dst, uint64(c.Count))
	dst = binary.AppendUvarint(dst, uint64(len(c.Seen)))
	prev := uint64(0)
	for _, h := range c.Seen { // sorted: deltas are small
		dst = binary.AppendUvarint(dst, h-prev)
		prev = h
	}
	fp := func(key uint32) uint64 { return p.groupOf[key>>16][key&0xffff] }
	dst = binary.AppendUvarint(dst, uint64(len(c.Plain)))
	for _, s := range c.Plain {
		dst = binary.LittleEndian.AppendUint64(dst, fp(s.Group))
		dst = binary.AppendUvarint(dst, uint64(s.N))
		dst = binary.AppendVarint(dst, s.Sum)
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Firsts)))
	for _, f := range c.Firsts {
		dst = binary.LittleEndian.AppendUint64(dst, fp(f.Group))
		dst = binary.AppendVarint(dst, f.At)
		dst = binary.AppendUvarint(dst, uint64(len(f.EventID)))
		dst = append(dst, f.EventID...)
		dst = binary.AppendVarint(dst, f.Points)
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Entries)))
	for _, x := range c.Entries {
		dst = binary.LittleEndian.AppendUint64(dst, fp(x.Group))
		dst = binary.AppendVarint(dst, x.At)
		dst = binary.AppendVarint(dst, int64(x.Points))
	}
	var disarmed []uint64
	for bit := 0; bit < len(p.thOf); bit++ {
		if c.Disarmed&(1<<bit) != 0 {
			disarmed = append(disarmed, p.thOf[bit])
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(disarmed)))
	for _, d := range disarmed {
		dst = binary.LittleEndian.AppendUint64(dst, d)
	}
	return dst
}

var errCorrupt = errors.New("corrupt contact state")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// count reads a length and checks it against what the bytes can hold, so a
// corrupt length cannot make us allocate gigabytes.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/minBytes) || n > math.MaxInt32 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	return int(n)
}

// Decode reads a contact's state saved by Encode, under this engine's
// rules: groups and thresholds it does not know are dropped.
func (e *Engine) Decode(data []byte) (*Contact, error) {
	p := e.prints()
	if len(data) == 0 || data[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown encoding", errCorrupt)
	}
	d := &decoder{b: data[1:]}
	c := &Contact{Latest: d.varint(), Count: uint32(d.uvarint())}
	if n := d.count(1); n > 0 {
		c.Seen = make([]uint64, n)
		prev := uint64(0)
		for i := range c.Seen {
			prev += d.uvarint()
			c.Seen[i] = prev
		}
	}
	for n := d.count(10); n > 0; n-- {
		r, ok := p.groups[d.u64()]
		s := PlainState{Group: r.key(), N: uint32(d.uvarint()), Sum: d.varint()}
		if ok && e.kinds[r.model][r.group] == plain {
			c.Plain = append(c.Plain, s)
		}
	}
	for n := d.count(11); n > 0; n-- {
		r, ok := p.groups[d.u64()]
		f := FirstState{Group: r.key(), At: d.varint()}
		l := d.count(1)
		if d.err == nil && l <= len(d.b) {
			f.EventID = string(d.b[:l])
			d.b = d.b[l:]
		}
		f.Points = d.varint()
		if ok && e.kinds[r.model][r.group] == first {
			c.Firsts = append(c.Firsts, f)
		}
	}
	for n := d.count(10); n > 0; n-- {
		r, ok := p.groups[d.u64()]
		x := Entry{Group: r.key(), At: d.varint()}
		pts := d.varint()
		x.Points = int32(pts)
		if ok && e.kinds[r.model][r.group] == listed && int64(x.Points) == pts {
			c.Entries = append(c.Entries, x)
		}
	}
	for n := d.count(8); n > 0; n-- {
		if bit, ok := p.thresholds[d.u64()]; ok {
			c.Disarmed |= 1 << bit
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	sortState(c)
	c.Scores = make([]rules.Points, len(e.Rules.Models))
	s := Scorer{Engine: e}
	for mi := range c.Scores {
		c.Scores[mi] = s.score(c, mi, c.Latest)
	}
	return c, nil
}

// sortState restores the order the scorer keeps, which a remap between
// rule versions can change.
func sortState(c *Contact) {
	sortBy(c.Plain, func(a, b PlainState) bool { return a.Group < b.Group })
	sortBy(c.Firsts, func(a, b FirstState) bool { return a.Group < b.Group })
	sortBy(c.Entries, func(a, b Entry) bool { return a.Group < b.Group || a.Group == b.Group && a.At < b.At })
}
