package events

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// projections are the key sets the tests project the tricky inputs on:
// none, keys the inputs hold, keys they do not, and keys that differ from
// theirs only in case or by an escape.
var projections = []struct{ properties, contact []string }{
	{nil, nil},
	{[]string{"a"}, []string{"email"}},
	{[]string{"campaign", "n", "s", "q", "o", "t", "l"}, []string{"name", "K", "s", "lifecycle_stage"}},
	{[]string{"A", "a\"b", "\u00e9", "missing"}, []string{"Email", "owner_id", "timezone"}},
	{[]string{strings.Repeat("k", 40), "d", "g", "j"}, nil},
}

// projectedReference is what p.Decode must give: the reference decoding
// with only p's keys left in the objects.
func projectedReference(p *Projection, data []byte) (Event, error) {
	ev, err := reference(data)
	p.Apply(&ev)
	return ev, err
}

func TestProjectedDecodeMatchesReference(t *testing.T) {
	for _, pr := range projections {
		p := NewProjection(pr.properties, pr.contact)
		for _, tc := range tricky {
			ev, err := p.Decode([]byte(tc.in))
			want, werr := projectedReference(p, []byte(tc.in))
			if diff := sameAs(ev, err, want, werr); diff != "" {
				t.Errorf("%s, keeping %v and %v: %s", tc.name, pr.properties, pr.contact, diff)
			}
		}
	}
}

// TestProjectedDecodeKeepsWhatWasAsked: the kept keys with their whole
// values, an object holding none of them as an empty map, a null or
// absent one as none.
func TestProjectedDecodeKeepsWhatWasAsked(t *testing.T) {
	p := NewProjection([]string{"path", "nested"}, []string{"email"})
	ev, err := p.Decode([]byte(`{` + head + `,"properties":{"path":"/pricing","other":[1,{"x":2}],"nested":{"a":[1,"b"]},"more":"\u00e9"},"contact":{"owner_id":"u-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Properties) != 2 || ev.Properties["path"] != "/pricing" || len(ev.Properties["nested"].(map[string]any)["a"].([]any)) != 2 {
		t.Errorf("properties %#v", ev.Properties)
	}
	if ev.Contact == nil || len(ev.Contact) != 0 {
		t.Errorf("contact %#v, want an empty map", ev.Contact)
	}
	ev, err = p.Decode([]byte(`{` + head + `,"properties":null}`))
	if err != nil || ev.Properties != nil || ev.Contact != nil {
		t.Errorf("null and absent objects: %#v %#v, %v", ev.Properties, ev.Contact, err)
	}
}

// TestProjectedDecodeRefusesSkippedValues: a value left out is still
// checked, and its fault reported as Decode reports it.
func TestProjectedDecodeRefusesSkippedValues(t *testing.T) {
	p := NewProjection([]string{"kept"}, nil)
	for _, skipped := range []string{`1e400`, `-1e999`, `[1,]`, `{"a":tru}`, `"\x"`, "\"a\x01\"", `01`, `{1:2}`,
		strings.Repeat(`[`, MaxDepth) + strings.Repeat(`]`, MaxDepth), strings.Repeat("9", 400)} {
		in := []byte(`{` + head + `,"properties":{"kept":1,"skipped":` + skipped + `}}`)
		_, err := p.Decode(in)
		_, werr := reference(in)
		if err == nil || err.Error() != werr.Error() {
			t.Errorf("%s: %v, want %v", skipped, err, werr)
		}
	}
}

// FuzzProjectedDecode holds the projected decoding to the reference: for
// every input and set of keys, the reference's event with only those keys
// left, or its error.
func FuzzProjectedDecode(f *testing.F) {
	for _, tc := range tricky {
		f.Add([]byte(tc.in), "a,campaign,n", "email,name")
	}
	f.Add([]byte(`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","properties":{"a":[1,{"b":null}],"n":1e3,"m":1e400},"contact":{"s":"\u00e9\ud800"}}`), "n", "s")
	f.Fuzz(func(t *testing.T, data []byte, properties, contact string) {
		p := NewProjection(strings.Split(properties, ","), strings.Split(contact, ","))
		ev, err := p.Decode(data)
		want, werr := projectedReference(p, data)
		if diff := sameAs(ev, err, want, werr); diff != "" {
			t.Fatal(diff)
		}
	})
}

// TestProjectedObjectsShared: an object whose kept members come again
// with the same bytes gets the map made for them before (once admitted,
// on their second sighting); other bytes, another map.
func TestProjectedObjectsShared(t *testing.T) {
	p := NewProjection([]string{"campaign", "channel"}, []string{"email"})
	line := func(campaign string) []byte {
		return []byte(`{` + head + `,"properties":{"campaign":"` + campaign + `","email_id":"em-1","channel":"email"},"contact":{"email":"shared@example.com","owner_id":"u-1"}}`)
	}
	var evs []Event
	for range 3 {
		ev, err := p.Decode(line("q4-shared-test"))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if !sameMapPtr(evs[1].Properties, evs[2].Properties) || !sameMapPtr(evs[1].Contact, evs[2].Contact) {
		t.Error("the third decoding made new maps")
	}
	other, _ := p.Decode(line("another-campaign"))
	if sameMapPtr(other.Properties, evs[2].Properties) || other.Properties["campaign"] != "another-campaign" {
		t.Errorf("other bytes gave %v", other.Properties)
	}
	if !sameMapPtr(other.Contact, evs[2].Contact) {
		t.Error("the same contact bytes gave a new map")
	}
}

func sameMapPtr(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestProjectedDecodeConcurrently is for the race detector: the shared
// objects' table is shared by all goroutines.
func TestProjectedDecodeConcurrently(t *testing.T) {
	p := NewProjection([]string{"k1", "k2", "n"}, []string{"c"})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				in := fmt.Sprintf(`{"id":"e%d","type":"t","contact_id":"c%d","occurred_at":"2026-03-01T10:00:00Z","properties":{"k%d":"v%d","n":%d},"contact":{"c":%d}}`, i, i%50, i%5, (i+g)%60, i%90, i%7)
				ev, err := p.Decode([]byte(in))
				want, werr := projectedReference(p, []byte(in))
				if diff := sameAs(ev, err, want, werr); diff != "" {
					t.Error(diff)
					return
				}
			}
		})
	}
	wg.Wait()
}
