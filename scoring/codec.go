package scoring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/scorebridge/scorebridge/rules"
)

// A contact's state is saved (snapshots, changelog) with each group named
// by a fingerprint of its model, name and definition rather than by its
// index, so state written under one rule version loads under another: a
// group whose definition is unchanged keeps its state; a changed, new or
// removed group starts empty (its state would be wrong under the new
// definition; `scorer rescore` rebuilds it from history). codecVersion is
// the first byte of every encoded contact: version 2 adds each disarmed
// threshold's crossing time; version 1 states still load (their crossing
// times are unknown: 0).
const codecVersion = 2

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
	seen := c.arena[c.seenAt():]
	dst = binary.AppendUvarint(dst, uint64(len(seen)))
	prev := uint64(0)
	for _, h := range seen { // sorted: deltas are small
		dst = binary.AppendUvarint(dst, h-prev)
		prev = h
	}
	fp := func(key uint32) uint64 { return p.groupOf[key>>16][key&0xffff] }
	w := c.plainWords()
	dst = binary.AppendUvarint(dst, uint64(c.nPlain))
	for i := range int(c.nPlain) {
		dst = binary.LittleEndian.AppendUint64(dst, fp(plainKey(w, i)))
		dst = binary.AppendUvarint(dst, uint64(uint32(w[2*i])))
		dst = binary.AppendVarint(dst, plainSum(w, i))
	}
	firsts := c.firstList()
	dst = binary.AppendUvarint(dst, uint64(len(firsts)))
	for _, f := range firsts {
		dst = binary.LittleEndian.AppendUint64(dst, fp(f.Group))
		dst = binary.AppendVarint(dst, f.At)
		dst = binary.AppendUvarint(dst, uint64(len(f.EventID)))
		dst = append(dst, f.EventID...)
		dst = binary.AppendVarint(dst, f.Points)
	}
	w = c.entryWords()
	dst = binary.AppendUvarint(dst, uint64(c.nEntries))
	for i := range int(c.nEntries) {
		dst = binary.LittleEndian.AppendUint64(dst, fp(entryKey(w, i)))
		dst = binary.AppendVarint(dst, entryAt(w, i))
		dst = binary.AppendVarint(dst, entryPoints(w, i))
	}
	dst = binary.AppendUvarint(dst, uint64(bits.OnesCount64(c.Disarmed)))
	for bit := 0; bit < len(p.thOf); bit++ {
		if c.Disarmed&(1<<bit) != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, p.thOf[bit])
			dst = binary.AppendVarint(dst, c.crossedTime(bit))
		}
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

// plainState and entry are the decoder's staging of the arena's records,
// to sort before they are laid out.
type plainState struct {
	group, n uint32
	sum      rules.Points
}

type entry struct {
	at     int64
	group  uint32
	points int32
}

// Decode reads a contact's state saved by Encode, under this engine's
// rules: groups and thresholds it does not know are dropped.
func (e *Engine) Decode(data []byte) (*Contact, error) {
	p := e.prints()
	if len(data) == 0 || data[0] < 1 || data[0] > codecVersion {
		return nil, fmt.Errorf("%w: unknown encoding", errCorrupt)
	}
	timed := data[0] >= 2
	d := &decoder{b: data[1:]}
	c := &Contact{Latest: d.varint(), Count: uint32(d.uvarint())}
	var seen []uint64
	if n := d.count(1); n > 0 {
		seen = make([]uint64, n)
		prev := uint64(0)
		for i := range seen {
			prev += d.uvarint()
			seen[i] = prev
		}
	}
	var plains []plainState
	for n := d.count(10); n > 0; n-- {
		r, ok := p.groups[d.u64()]
		s := plainState{group: r.key(), n: uint32(d.uvarint()), sum: d.varint()}
		if ok && e.kinds[r.model][r.group] == plain {
			plains = append(plains, s)
		}
	}
	var firsts []FirstState
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
			firsts = append(firsts, f)
		}
	}
	var entries []entry
	for n := d.count(10); n > 0; n-- {
		r, ok := p.groups[d.u64()]
		x := entry{group: r.key(), at: d.varint()}
		pts := d.varint()
		x.points = int32(pts)
		if ok && e.kinds[r.model][r.group] == listed && int64(x.points) == pts {
			entries = append(entries, x)
		}
	}
	var crossed []crossedAt
	for n := d.count(8); n > 0; n-- {
		bit, ok := p.thresholds[d.u64()]
		var at int64
		if timed {
			at = d.varint()
		}
		if ok {
			c.Disarmed |= 1 << bit
			if at != 0 {
				crossed = append(crossed, crossedAt{uint8(bit), at})
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	// A remap between rule versions can change the order the scorer keeps.
	sortBy(plains, func(a, b plainState) bool { return a.group < b.group })
	sortBy(firsts, func(a, b FirstState) bool { return a.Group < b.Group })
	sortBy(entries, func(a, b entry) bool { return a.group < b.group || a.group == b.group && a.at < b.at })
	sortBy(crossed, func(a, b crossedAt) bool { return a.bit < b.bit })
	if len(firsts) > 0 || len(crossed) > 0 {
		c.rare = &rareState{firsts: firsts, crossed: crossed}
	}
	c.nScores, c.nPlain, c.nEntries = uint32(len(e.Rules.Models)), uint32(len(plains)), uint32(len(entries))
	// pruneAt 0: the first event prunes, and sets it.
	c.arena = make([]uint64, 1+int(c.nScores), 1+int(c.nScores)+2*len(plains)+2*len(entries)+len(seen))
	for _, s := range plains {
		c.arena = append(c.arena, uint64(s.group)<<32|uint64(s.n), uint64(s.sum))
	}
	for _, x := range entries {
		c.arena = append(c.arena, uint64(x.at), entryWord(x.group, rules.Points(x.points)))
	}
	c.arena = append(c.arena, seen...)
	s := Scorer{Engine: e}
	for mi := range int(c.nScores) {
		s.recount(c, mi)
	}
	return c, nil
}
