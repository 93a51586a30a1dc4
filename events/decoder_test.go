package events

import (
	"reflect"
	"testing"
)

// TestDecoderMatchesDecode decodes every tricky input through one Decoder
// twice, after all the others, so that each contact object that can come
// from the cache does: every event and error is the reference's.
func TestDecoderMatchesDecode(t *testing.T) {
	d := NewDecoder()
	for round := range 2 {
		for _, tc := range tricky {
			for _, in := range []string{tc.in, withContact(tc.in, `{"email":"a@b.c","n":[1,{"x":null}],"s":"\u00e9"}`)} {
				ev, err := d.Decode([]byte(in))
				want, werr := reference([]byte(in))
				if diff := sameAs(ev, err, want, werr); diff != "" {
					t.Fatalf("round %d, %s: %s\n%s", round, tc.name, in, diff)
				}
			}
		}
	}
}

// withContact is in with a contact object appended as its last field
// (in is left as it is where it is not an object).
func withContact(in, contact string) string {
	end := len(in) - 1
	for end >= 0 && (in[end] == ' ' || in[end] == '\n' || in[end] == '\t' || in[end] == '\r') {
		end--
	}
	if end < 1 || in[end] != '}' {
		return in
	}
	return in[:end] + `,"contact":` + contact + in[end:]
}

// TestDecoderSharesContact: the same contact bytes give the same map;
// other bytes (even the same values written otherwise) a map of their own.
func TestDecoderSharesContact(t *testing.T) {
	d := NewDecoder()
	ev := func(id, contact string) Event {
		e, err := d.Decode([]byte(`{"id":"` + id + `","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","contact":` + contact + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	same := func(a, b map[string]any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	a := ev("e1", `{"email":"a@b.c","stage":"lead"}`)
	b := ev("e2", `{"email":"a@b.c","stage":"lead"}`)
	c := ev("e3", `{"email":"a@b.c", "stage":"lead"}`)
	if !same(a.Contact, b.Contact) {
		t.Error("identical contact objects decoded to two maps")
	}
	if same(a.Contact, c.Contact) || !reflect.DeepEqual(a.Contact, c.Contact) {
		t.Errorf("other bytes: %v %v", a.Contact, c.Contact)
	}
	if x, _ := Decode([]byte(`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","contact":{"email":"a@b.c","stage":"lead"}}`)); same(x.Contact, a.Contact) {
		t.Error("Decode gave a Decoder's map")
	}
}

// FuzzDecoder holds a Decoder to the reference for the second of two
// inputs, whose contact object may come from the first's.
func FuzzDecoder(f *testing.F) {
	for _, tc := range tricky {
		f.Add([]byte(tc.in), []byte(withContact(tc.in, `{"a":1}`)))
		f.Add([]byte(withContact(tc.in, `{"a":[1,"x"]}`)), []byte(withContact(tc.in, `{"a":[1,"x"]}`)))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		d := NewDecoder()
		for _, data := range [][]byte{first, second, first} {
			ev, err := d.Decode(data)
			want, werr := reference(data)
			if diff := sameAs(ev, err, want, werr); diff != "" {
				t.Fatalf("%q: %s", data, diff)
			}
		}
	})
}
