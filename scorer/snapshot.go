package scorer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/scorebridge/scorebridge/scoring"
)

// Snapshots make a restart fast: when a partition is revoked (and so on a
// graceful stop) its state is written to the state directory with the
// offset it reflects and the changelog's end offset at that moment. On
// assignment a snapshot is used only if that offset is exactly the group's
// committed offset and nothing was written to the changelog since;
// otherwise (a crash, another instance moved on, `scorer rescore --apply`
// rebuilt the state) the changelog is the truth. snapshotMagic opens every
// snapshot file; a change of layout changes it.

// sbsnap3 adds the forgotten contacts' markers after the states; sbsnap2,
// without them, still loads.
const snapshotMagic = "sbsnap3\n"

const snapshotMagicV2 = "sbsnap2\n"

func snapshotPath(dir, topic string, partition int) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d.state", topic, partition))
}

// writeSnapshot saves part atomically: a temporary file renamed over the
// old one.
func writeSnapshot(dir, topic string, part *partition, changelogEnd int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := snapshotPath(dir, topic, part.id)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.WriteString(snapshotMagic)
	var buf []byte
	buf = binary.AppendVarint(buf[:0], part.next)
	buf = binary.AppendVarint(buf, changelogEnd)
	buf = binary.AppendUvarint(buf, uint64(len(part.contacts)))
	w.Write(buf)
	for id, c := range part.contacts {
		buf = binary.AppendUvarint(buf[:0], uint64(len(id)))
		buf = append(buf, id...)
		state := part.engine.Encode(nil, c)
		buf = binary.AppendUvarint(buf, uint64(len(state)))
		buf = append(buf, state...)
		if _, err := w.Write(buf); err != nil {
			tmp.Close()
			return err
		}
	}
	buf = binary.AppendUvarint(buf[:0], uint64(len(part.forgotten)))
	for id, mk := range part.forgotten {
		buf = binary.AppendUvarint(buf, uint64(len(id)))
		buf = append(buf, id...)
		buf = binary.AppendVarint(buf, mk.At)
		buf = append(buf, byte(mk.Kind))
	}
	w.Write(buf)
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readSnapshot loads a partition's snapshot if it reflects exactly offset
// next and the changelog then ended at changelogEnd; ok is false when
// there is none or it is stale.
func readSnapshot(dir, topic string, id int, next, changelogEnd int64, e *scoring.Engine) (*partition, bool, error) {
	f, err := os.Open(snapshotPath(dir, topic, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != snapshotMagic && string(magic) != snapshotMagicV2 {
		return nil, false, fmt.Errorf("%s: not a state snapshot", f.Name())
	}
	offset, err := binary.ReadVarint(r)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	logEnd, err := binary.ReadVarint(r)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if offset != next || logEnd != changelogEnd {
		return nil, false, nil
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	part := &partition{id: id, engine: e, scorer: scoring.NewScorer(e), contacts: make(map[string]*scoring.Contact, min(n, 1<<20)), next: next}
	field := func() ([]byte, error) {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if l > 64<<20 {
			return nil, errors.New("field too long")
		}
		b := make([]byte, l)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	for i := uint64(0); i < n; i++ {
		id, err := field()
		if err != nil {
			return nil, false, fmt.Errorf("%s: contact %d: %w", f.Name(), i, err)
		}
		state, err := field()
		if err != nil {
			return nil, false, fmt.Errorf("%s: contact %q: %w", f.Name(), id, err)
		}
		c, err := e.Decode(state)
		if err != nil {
			return nil, false, fmt.Errorf("%s: contact %q: %w", f.Name(), id, err)
		}
		part.contacts[string(id)] = c
	}
	if string(magic) == snapshotMagicV2 {
		return part, true, nil
	}
	n, err = binary.ReadUvarint(r)
	if err != nil {
		return nil, false, fmt.Errorf("%s: markers: %w", f.Name(), err)
	}
	if n > 0 {
		part.forgotten = make(map[string]marker, min(n, 1<<20))
	}
	for i := uint64(0); i < n; i++ {
		id, err := field()
		if err != nil {
			return nil, false, fmt.Errorf("%s: marker %d: %w", f.Name(), i, err)
		}
		at, err := binary.ReadVarint(r)
		if err != nil {
			return nil, false, fmt.Errorf("%s: marker of %q: %w", f.Name(), id, err)
		}
		k, err := r.ReadByte()
		if err != nil {
			return nil, false, fmt.Errorf("%s: marker of %q: %w", f.Name(), id, err)
		}
		if forgetKind(k) != deleted && forgetKind(k) != privacy {
			return nil, false, fmt.Errorf("%s: marker of %q: bad kind %d", f.Name(), id, k)
		}
		part.forgotten[string(id)] = marker{At: at, Kind: forgetKind(k)}
	}
	return part, true, nil
}
