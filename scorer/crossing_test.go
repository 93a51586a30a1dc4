package scorer

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/synth"
)

// crossing is a crossing carrying contact as its contact properties.
func crossing(contact map[string]any) events.Crossing {
	return events.Crossing{
		CrossingID: events.CrossingID("c-1", "intent", "mql", "e-1"), ContactID: "c-1", CompanyID: "co-1",
		Model: "intent", Score: 61.5, Threshold: 60, ThresholdName: "mql",
		CrossedAt: time.Date(2026, 10, 3, 4, 5, 6, 7000, time.UTC), EventID: "e-1", RuleVersion: "v1",
		Contact: contact,
	}
}

// stdJSON is encoding/json's encoding without HTML escaping.
func stdJSON(x events.Crossing) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(x)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// marshalCrossing writes the bytes encoding/json writes (without HTML
// escaping): the crossings topic's consumers and the tests compare them.
func TestMarshalCrossingIsEncodingJSON(t *testing.T) {
	cases := map[string]events.Crossing{
		"no contact": crossing(nil),
		"escapes": crossing(map[string]any{
			"html": "<a href=\"x\">&</a>", "ctl": "tab\tnl\nnul\x00\x1f", "lines": "\u2028\u2029",
			"utf8": "héllo wörld ✓ 😀", "bad utf8": "a\xffb\xc3", "quote\"key": `back\slash`,
		}),
		"numbers": crossing(map[string]any{
			"int": 120.0, "neg": -3.25, "tiny": 1e-7, "edge low": 9.99999999e-7, "edge high": 1e21, "big": 123456789012345678.0,
			"max": math.MaxFloat64, "smallest": math.SmallestNonzeroFloat64, "zero": 0.0, "negzero": math.Copysign(0, -1),
		}),
		"nested": crossing(map[string]any{
			"null": nil, "yes": true, "no": false, "list": []any{"a", 1.5, nil, map[string]any{"z": 1.0, "a": []any{}}},
			"empty": map[string]any{}, "deep": map[string]any{"b": map[string]any{"d": "x", "c": "y"}},
		}),
		"scores": func() events.Crossing {
			x := crossing(nil)
			x.Score, x.Threshold, x.CompanyID = 1e-7, 1e21, ""
			return x
		}(),
	}
	// Every shape the synthetic contacts take.
	cfg := synth.Default()
	cfg.Contacts, cfg.Days = 200, 5
	n := 0
	synth.Generate(cfg, func(ev *events.Event) error {
		if n++; n%7 == 0 {
			x := crossing(ev.Contact)
			x.ContactID, x.CompanyID, x.EventID, x.CrossedAt = ev.ContactID, ev.CompanyID, ev.ID, ev.OccurredAt
			cases[ev.ID] = x
		}
		return nil
	})
	for name, x := range cases {
		want, err := stdJSON(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalCrossing(&x); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func FuzzMarshalCrossing(f *testing.F) {
	f.Add("email", "a@b.com", 61.5, "stage")
	f.Add("<html>", "\xff\u2028&", 1e-7, "x\x00")
	f.Fuzz(func(t *testing.T, k, v string, num float64, k2 string) {
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return // JSON has no such numbers; decoded events cannot carry them
		}
		x := crossing(map[string]any{k: v, k2: num, strings.ToUpper(k): []any{v, num, map[string]any{k2: v}}})
		x.Score, x.ThresholdName = num, k
		want, err := stdJSON(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalCrossing(&x); string(got) != string(want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}

// '<', '>' and '&' take one byte each, not six: a contact snapshot full of
// them must not grow a crossing past what Kafka takes.
func TestMarshalCrossingNoHTMLEscape(t *testing.T) {
	x := crossing(map[string]any{"notes": strings.Repeat("<&>", 1000)})
	data := marshalCrossing(&x)
	if bytes.Contains(data, []byte(`\u003c`)) || !bytes.Contains(data, []byte("<&><&>")) {
		t.Fatalf("HTML-escaped: %.200s", data)
	}
	var back events.Crossing
	if err := json.Unmarshal(data, &back); err != nil || back.Contact["notes"] != x.Contact["notes"] {
		t.Fatalf("does not read back: %v", err)
	}
}
