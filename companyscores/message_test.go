package companyscores

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sim runs a history through the one-process company path.
func sim(t testing.TB, file string) (*rules.Set, *accounts.Sim) {
	t.Helper()
	set, err := rules.Load(filepath.Join("..", "testdata", "rules-accounts"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := accounts.NewSim(e)
	err = events.NewReader(f).Each(func(ev events.Event) error { s.Add(&ev); return nil }, func(le *events.LineError) { t.Fatal(le) })
	if err != nil {
		t.Fatal(err)
	}
	return set, s
}

// The messages of the Acme history (docs/accounts.md's worked example)
// are testdata/acme.golden.jsonl: the topic's shape (threshold and
// crossed_at of the crossing, coverage and top never null, scores as
// numbers), and acme's 95 points.
func TestBuildGolden(t *testing.T) {
	set, s := sim(t, filepath.Join("..", "testdata", "events", "acme.jsonl"))
	ids := make([]string, 0, len(s.Aggs))
	for id := range s.Aggs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var got bytes.Buffer
	for _, id := range ids {
		m := Build(set, s.Aggs[id])
		data := Marshal(&m)
		back, ok, err := Decode([]byte(id), data)
		if err != nil || !ok || !Same(&m, &back) || !back.UpdatedAt.Equal(m.UpdatedAt) {
			t.Fatalf("%s: decoded %+v, %v, %v; built %+v", id, back, ok, err, m)
		}
		got.Write(data)
		got.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "acme.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("messages differ from %s (go test -update to accept):\n%s", golden, got.String())
	}
	acme := Build(set, s.Aggs["acme"])
	if mm := acme.Models["account_engagement"]; mm.Score != 95 || mm.Threshold == nil || *mm.Threshold != "default" || mm.Counted != 2 || mm.Members != 3 {
		t.Errorf("acme: %+v", mm)
	}
}

// Same tells every field apart, except the company and updated_at.
func TestSame(t *testing.T) {
	set, s := sim(t, filepath.Join("..", "testdata", "events", "acme.jsonl"))
	base := Build(set, s.Aggs["acme"])
	name, other := "x", "y"
	edits := map[string]func(*Model){
		"score":      func(m *Model) { m.Score++ },
		"rollup":     func(m *Model) { m.Rollup++ },
		"members":    func(m *Model) { m.Members++ },
		"counted":    func(m *Model) { m.Counted-- },
		"coverage":   func(m *Model) { m.Coverage = m.Coverage[1:] },
		"top":        func(m *Model) { m.Top[0].Score++ },
		"top role":   func(m *Model) { m.Top[0].Role = "intern" },
		"threshold":  func(m *Model) { m.Threshold = &name },
		"no crossed": func(m *Model) { m.CrossedAt = nil },
		"none":       func(m *Model) { m.Threshold, m.CrossedAt = nil, nil },
	}
	for what, edit := range edits {
		b := Build(set, s.Aggs["acme"])
		mm := b.Models["account_engagement"]
		edit(&mm)
		b.Models["account_engagement"] = mm
		if Same(&base, &b) {
			t.Errorf("%s: not told apart", what)
		}
	}
	b := Build(set, s.Aggs["acme"])
	b.CompanyID, b.UpdatedAt = other, b.UpdatedAt.Add(1)
	if !Same(&base, &b) {
		t.Error("company or updated_at compared")
	}
	b.RuleVersion = "other"
	if Same(&base, &b) {
		t.Error("rule version not compared")
	}
}

func TestDecodeProblems(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"a", `{`, "unexpected end"},
		{"a", `{"models":{}}`, "no company_id"},
		{"a", `{"company_id":"b","models":{}}`, `company_id "b" is not the key`},
		{"a", `{"company_id":"a"}`, "no models"},
	} {
		_, ok, err := Decode([]byte(c.key), []byte(c.value))
		if ok || err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `key "a"`) {
			t.Errorf("%s: %v %v, want %q", c.value, ok, err, c.want)
		}
	}
	if _, ok, err := Decode([]byte("a"), nil); ok || err != nil {
		t.Errorf("tombstone: %v %v", ok, err)
	}
}

func FuzzDecode(f *testing.F) {
	set, s := sim(f, filepath.Join("..", "testdata", "events", "acme.jsonl"))
	m := Build(set, s.Aggs["acme"])
	f.Add([]byte("acme"), Marshal(&m))
	f.Add([]byte("x"), []byte(`{"company_id":"x","models":{"m":{"score":1e400}}}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		m, ok, err := Decode(key, value)
		if err != nil || !ok {
			return
		}
		if m.CompanyID != string(key) || m.Models == nil {
			t.Fatalf("accepted %+v for %q", m, key)
		}
		again, ok, err := Decode(key, Marshal(&m))
		if err != nil || !ok || !Same(&m, &again) {
			t.Fatalf("round trip: %+v %v %v", again, ok, err)
		}
	})
}

// Decode names the topic, the key and what is wrong; a nil value is a
// tombstone.
func TestDecodeRejects(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"a", `{"company_id":"b","models":{}}`, `company-scores message for key "a": company_id "b" is not the key`},
		{"a", `{"models":{}}`, `company-scores message for key "a": no company_id`},
		{"a", `{"company_id":"a"}`, `company-scores message for key "a": no models`},
		{"a", `{"company_id":`, `company-scores message for key "a": unexpected end of JSON input`},
	}
	for _, tc := range cases {
		m, ok, err := Decode([]byte(tc.key), []byte(tc.value))
		if err == nil || err.Error() != tc.want || ok || m.CompanyID != "" {
			t.Errorf("Decode(%s) = %+v, %v, %v; want the error %q", tc.value, m, ok, err, tc.want)
		}
	}
	if m, ok, err := Decode([]byte("a"), nil); ok || err != nil || m.Models != nil {
		t.Errorf("tombstone: %+v, ok %v, err %v; want zero, false, nil", m, ok, err)
	}
}
