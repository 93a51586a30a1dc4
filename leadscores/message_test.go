package leadscores

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func engine(t testing.TB) *scoring.Engine {
	t.Helper()
	set, err := rules.Load(filepath.Join("..", "testdata", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The messages of testdata/events.jsonl under the repository's rules, one
// per contact in contact order, are testdata/messages.golden.jsonl: the
// topic's shape (threshold and crossed_at of the crossing, null when
// none, top groups largest first, scores as numbers).
func TestBuildGolden(t *testing.T) {
	e := engine(t)
	f, err := os.Open("testdata/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := scoring.NewScorer(e)
	states := map[string]*scoring.Contact{}
	company := map[string]string{}
	var order []string
	err = events.NewReader(f).Each(func(ev events.Event) error {
		c := states[ev.ContactID]
		if c == nil {
			c = &scoring.Contact{}
			states[ev.ContactID] = c
			order = append(order, ev.ContactID)
		}
		s.Apply(c, &ev)
		company[ev.ContactID] = ev.CompanyID
		return nil
	}, func(le *events.LineError) { t.Fatal(le) })
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, id := range order {
		m := Build(s, id, company[id], states[id])
		got.Write(Marshal(&m))
		got.WriteByte('\n')
		back, ok, err := Decode([]byte(id), Marshal(&m))
		if err != nil || !ok || !SameScores(&m, &back) || back.CompanyID != m.CompanyID || !back.UpdatedAt.Equal(m.UpdatedAt) {
			t.Errorf("%s: Decode(Marshal) = %+v, %v, %v; want the message back", id, back, ok, err)
		}
	}
	golden := "testdata/messages.golden.jsonl"
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
		t.Errorf("messages differ from %s (-update rewrites it):\n got %s\nwant %s", golden, got.Bytes(), want)
	}
}

func TestSameScores(t *testing.T) {
	sales, nurture := "sales", "nurture"
	base := func() Message {
		return Message{ContactID: "c", RuleVersion: "v1", Models: map[string]Model{
			"m": {Score: 10, Threshold: &sales, Top: []Group{{"a", 10}}},
		}}
	}
	cases := []struct {
		name   string
		change func(*Message)
		same   bool
	}{
		{"identical", func(*Message) {}, true},
		{"company and time do not count", func(m *Message) { m.CompanyID = "x"; m.UpdatedAt = m.UpdatedAt.AddDate(1, 0, 0) }, true},
		{"score", func(m *Message) { x := m.Models["m"]; x.Score = 11; m.Models["m"] = x }, false},
		{"threshold", func(m *Message) { x := m.Models["m"]; x.Threshold = &nurture; m.Models["m"] = x }, false},
		{"threshold gone", func(m *Message) { x := m.Models["m"]; x.Threshold = nil; m.Models["m"] = x }, false},
		{"top", func(m *Message) { x := m.Models["m"]; x.Top = []Group{{"b", 10}}; m.Models["m"] = x }, false},
		{"rule version", func(m *Message) { m.RuleVersion = "v2" }, false},
		{"another model", func(m *Message) { m.Models["n"] = Model{} }, false},
	}
	for _, tc := range cases {
		a, b := base(), base()
		tc.change(&b)
		if got := SameScores(&a, &b); got != tc.same {
			t.Errorf("%s: SameScores = %v, want %v", tc.name, got, tc.same)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"c-1", `{"contact_id":"c-2","models":{}}`, `contact_id "c-2" is not the key`},
		{"c-1", `{"models":{}}`, "no contact_id"},
		{"c-1", `{"contact_id":"c-1"}`, "no models"},
		{"c-1", `{"contact_id":`, "unexpected end"},
	}
	for _, tc := range cases {
		_, _, err := Decode([]byte(tc.key), []byte(tc.value))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) || !bytes.Contains([]byte(err.Error()), []byte(tc.key)) {
			t.Errorf("Decode(%s) = %v, want an error naming the key and %q", tc.value, err, tc.want)
		}
	}
	if _, ok, err := Decode([]byte("c-1"), nil); ok || err != nil {
		t.Errorf("tombstone: ok %v, err %v; want false, nil", ok, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("c-1"), []byte(`{"contact_id":"c-1","company_id":"","updated_at":"2026-11-20T10:00:00Z","rule_version":"v","models":{"m":{"score":1,"threshold":null,"crossed_at":null,"top":[]}}}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		m, ok, err := Decode(key, value)
		if err != nil || !ok {
			return
		}
		again, ok, err := Decode(key, Marshal(&m))
		if err != nil || !ok || !SameScores(&m, &again) {
			t.Fatalf("a decoded message does not survive Marshal: %v", err)
		}
	})
}
