package companyscores

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/events"
)

// The messages the aggregate builds equal the reference of the same
// history (Compare finds nothing); a changed score, a changed top, a
// missing company and a company on the topic that the history has no
// member of are each found and named.
func TestCompare(t *testing.T) {
	path := filepath.Join("..", "testdata", "events", "acme.jsonl")
	set, s := sim(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []events.Event
	if err := events.NewReader(f).Each(func(ev events.Event) error { evs = append(evs, ev); return nil }, nil); err != nil {
		t.Fatal(err)
	}
	build := func() map[string]Message {
		latest := map[string]Message{}
		for id, agg := range s.Aggs {
			latest[id] = Build(set, agg)
		}
		return latest
	}
	compare := func(latest map[string]Message) (int, int, string) {
		var lines []string
		d, m := Compare(set, evs, latest, func(l string) { lines = append(lines, l) })
		return d, m, strings.Join(lines, "\n")
	}
	latest := build()
	if len(latest) == 0 || len(set.Companies) == 0 {
		t.Fatal("no company in the history: the test would check nothing")
	}
	if d, m, lines := compare(latest); d != 0 || m != 0 {
		t.Fatalf("the aggregate's messages against the reference: %d differ, %d missing:\n%s", d, m, lines)
	}

	cm := set.Companies[0].Name
	var first string
	for id := range latest {
		if first == "" || id < first {
			first = id
		}
	}
	cases := []struct {
		name         string
		change       func(map[string]Message)
		differ, miss int
		line         string
	}{
		{"score", func(l map[string]Message) {
			mm := l[first].Models[cm] // Build made the map: this message's own
			mm.Score++
			l[first].Models[cm] = mm
		}, 1, 0, first + " " + cm + ": score "},
		{"missing", func(l map[string]Message) { delete(l, first) }, 0, 1, first + ": no message on the topic"},
		{"no member left", func(l map[string]Message) {
			l["zz-gone"] = Message{CompanyID: "zz-gone", Models: map[string]Model{cm: {Score: 5, Rollup: 5}}}
		}, 1, 0, "zz-gone " + cm + ": score 5, backtest 0"},
		{"no member left, nothing", func(l map[string]Message) {
			l["zz-empty"] = Message{CompanyID: "zz-empty", Models: map[string]Model{}}
		}, 0, 0, ""},
	}
	for _, c := range cases {
		l := build()
		c.change(l)
		d, m, lines := compare(l)
		if d != c.differ || m != c.miss || !strings.Contains(lines, c.line) {
			t.Errorf("%s: %d differ, %d missing, want %d, %d naming %q:\n%s", c.name, d, m, c.differ, c.miss, c.line, lines)
		}
	}
}
