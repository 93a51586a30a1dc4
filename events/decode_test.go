package events

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// reference is Decode with no fast path: the behaviour Decode must keep.
func reference(data []byte) (Event, error) {
	if len(data) > MaxEventBytes {
		return Event{}, fmt.Errorf("event is %d bytes, over the %d-byte limit", len(data), MaxEventBytes)
	}
	if err := checkDepth(data); err != nil {
		return Event{}, err
	}
	return decodeSlow(data)
}

// scans says whether the fast path takes data (rather than leaving it to
// decodeSlow).
func scans(data []byte) bool {
	var s scanner
	var out scanned
	return s.event(data, &out)
}

// sameAs says how a and b differ, or "" when Decode gave what reference
// gave: the same error text, and events equal down to the sign of a zero.
func sameAs(a Event, aerr error, b Event, berr error) string {
	if fmt.Sprint(aerr) != fmt.Sprint(berr) {
		return fmt.Sprintf("error %v, want %v", aerr, berr)
	}
	if !reflect.DeepEqual(a, b) || !sameBits(a.Properties, b.Properties) || !sameBits(a.Contact, b.Contact) {
		return fmt.Sprintf("event\n%#v\nwant\n%#v", a, b)
	}
	return ""
}

// sameBits compares floats bit for bit, which reflect.DeepEqual does not
// (it holds -0 == 0).
func sameBits(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for k, v := range a {
			if !sameBits(v, b[k]) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if !sameBits(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

const head = `"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"`

// tricky are inputs where a fast JSON decoder is apt to part from
// encoding/json. fast says the scanner must take the input itself (the
// rest it may leave to decodeSlow).
var tricky = []struct {
	name, in string
	fast     bool
}{
	{"realistic", `{"id":"ev-42-00000002","type":"email_opened","contact_id":"c-000323","company_id":"co-00052","occurred_at":"2026-10-01T00:00:43Z","properties":{"campaign":"partner-referral","channel":"email","email_id":"em-9"},"contact":{"email":"contact323@company52.com","lifecycle_stage":"salesqualifiedlead","owner_id":"u-5","timezone":"Europe/Berlin"}}`, true},
	{"white space", " \t\n{ \"id\" : \"e1\" ,\r\n\"type\":\"x\", \"contact_id\":\"c1\",\"occurred_at\" :\"2026-03-01T10:00:00Z\" , \"properties\" : { \"a\" : [ 1 , 2 ] , \"b\" : { } } } \n\t", true},
	{"empty object", `{}`, true},
	{"duplicate id", `{` + head + `,"id":"e2"}`, true},
	{"null id", `{"id":null,"type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, true},
	{"id then null", `{` + head + `,"id":null}`, true},
	{"null type and time", `{"id":"e1","type":null,"contact_id":"c1","occurred_at":null}`, true},
	{"empty id", `{"id":" \t","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, true},
	{"company null", `{` + head + `,"company_id":null}`, true},
	{"company empty", `{` + head + `,"company_id":""}`, true},
	{"company too long", `{` + head + `,"company_id":"` + strings.Repeat("c", MaxIDBytes+1) + `"}`, true},
	{"id too long", `{"id":"` + strings.Repeat("i", MaxIDBytes+1) + `","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, true},
	{"key case", `{"ID":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, false},
	{"key case after", `{` + head + `,"Id":"e2"}`, false},
	{"key dotless i", `{"ıd":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, false},
	{"key long s", `{` + head + `,"propertieſ":{"a":1}}`, false},
	{"key kelvin", `{` + head + `,"contact":{"K":1},"\u212aey":2}`, false},
	{"escaped key", `{"i\u0064":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, true},
	{"escaped key in object", `{` + head + `,"properties":{"\u0061":1,"a\"b":2}}`, true},
	{"escapes", `{` + head + `,"properties":{"s":"\"\\\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00 \u0000"}}`, true},
	{"escaped id", `{"id":"e\u00e91","type":"x\n","contact_id":"c\"1","occurred_at":"2026-03-01T10:00:00Z"}`, true},
	{"lone surrogates", `{` + head + `,"properties":{"a":"\ud800","b":"\udc00x","c":"\ud800\u0041","d":"\ud800\ud800","e":"x\ud83d","f":"\ud83d\\u"}}`, true},
	{"invalid utf-8", "{" + head + ",\"properties\":{\"a\":\"\xff\",\"b\":\"\xed\xa0\x80\",\"c\":\"x\xc3\",\"\xfe\":1,\"d\":\"\xef\xbf\xbd\"}}", true},
	{"invalid utf-8 id", "{\"id\":\"e\xff1\",\"type\":\"x\",\"contact_id\":\"c1\",\"occurred_at\":\"2026-03-01T10:00:00Z\"}", true},
	{"invalid utf-8 key", "{" + head + ",\"\xffid\":1}", false},
	{"utf-8", `{"id":"é","type":"ü","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","contact":{"name":"Zoë 日本"}}`, true},
	{"numbers", `{` + head + `,"properties":{"a":0,"b":-0,"c":-0.0,"d":1.5e3,"e":1E+2,"f":-1.25e-3,"g":123456789012345678901234567890,"h":9007199254740993,"i":0.1,"j":1e-400,"k":4.9e-324}}`, true},
	{"huge number", `{` + head + `,"properties":{"a":1e400}}`, false},
	{"huge number unknown field", `{` + head + `,"extra":1e400}`, false},
	{"huge number then valid", `{` + head + `,"properties":{"a":1e400},"properties":{"a":1}}`, false},
	{"bad numbers", `{` + head + `,"properties":{"a":01}}`, false},
	{"bad number dot", `{` + head + `,"properties":{"a":1.}}`, false},
	{"bad number lead dot", `{` + head + `,"properties":{"a":.5}}`, false},
	{"bad number exp", `{` + head + `,"properties":{"a":1e}}`, false},
	{"bad number minus", `{` + head + `,"properties":{"a":-}}`, false},
	{"bad number plus", `{` + head + `,"properties":{"a":+1}}`, false},
	{"literals", `{` + head + `,"properties":{"t":true,"f":false,"n":null,"l":[true,false,null]}}`, true},
	{"bad literal", `{` + head + `,"properties":{"t":tru}}`, false},
	{"empty containers", `{` + head + `,"properties":{"o":{},"a":[],"n":[[]]},"contact":{}}`, true},
	{"null objects", `{` + head + `,"properties":null,"contact":null}`, true},
	{"object then null", `{` + head + `,"properties":{"a":1},"properties":null}`, true},
	{"duplicate keys inside", `{` + head + `,"properties":{"a":1,"a":{"b":2},"a":[3]}}`, true},
	{"properties array", `{` + head + `,"properties":[1]}`, false},
	{"properties string", `{` + head + `,"properties":"x"}`, false},
	{"contact number", `{` + head + `,"contact":1}`, false},
	{"contact bool", `{` + head + `,"contact":true}`, false},
	{"unknown fields", `{` + head + `,"extra":{"a":[1,"x",{"b":null}]},"more":[],"s":"\u00e9"}`, true},
	{"unknown bad escape", `{` + head + `,"extra":"\x"}`, false},
	{"unknown bad unicode escape", `{` + head + `,"extra":"\u12g4"}`, false},
	{"single quote escape", `{` + head + `,"extra":"\'"}`, false},
	{"control character", "{" + head + ",\"properties\":{\"a\":\"x\x01y\"}}", false},
	{"tab in string", "{" + head + ",\"properties\":{\"a\":\"x\ty\"}}", false},
	{"id number", `{"id":1,"type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, false},
	{"id object", `{"id":{},"type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, false},
	{"time bool", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":true}`, false},
	{"trailing garbage", `{` + head + `} x`, false},
	{"trailing object", `{` + head + `}{}`, false},
	{"trailing bracket", `{` + head + `}]`, false},
	{"trailing nul", "{" + head + "}\x00", false},
	{"byte order mark", "\xef\xbb\xbf{" + head + "}", false},
	{"unterminated", `{` + head, false},
	{"unterminated string", `{"id":"e1`, false},
	{"trailing comma", `{` + head + `,}`, false},
	{"trailing comma inside", `{` + head + `,"properties":{"a":1,}}`, false},
	{"trailing comma array", `{` + head + `,"properties":{"a":[1,]}}`, false},
	{"missing colon", `{"id" "e1"}`, false},
	{"non-string key", `{` + head + `,"properties":{1:2}}`, false},
	{"top-level array", `[1,2]`, false},
	{"top-level null", `null`, false},
	{"top-level string", `"x"`, false},
	{"top-level number", `1`, false},
	{"empty", ``, false},
	{"blank", " \n", false},
	{"depth 32", `{` + head + `,"properties":` + strings.Repeat(`{"a":`, 30) + `[1]` + strings.Repeat(`}`, 30) + `}`, true},
	{"depth 33", `{` + head + `,"properties":` + strings.Repeat(`{"a":`, 31) + `[1]` + strings.Repeat(`}`, 31) + `}`, false},
	{"brackets in strings", `{` + head + `,"properties":{"q":"` + strings.Repeat(`[{\"`, 50) + `"}}`, true},
	{"time offset", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00.123456789-07:30"}`, true},
	{"time long fraction", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00.1234567891234+14:00"}`, true},
	{"time zero", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"0001-01-01T00:00:00Z"}`, true},
	{"time year 0", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"0000-02-29T23:59:59-23:59"}`, true},
	{"time leap day", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2024-02-29T00:00:00Z"}`, true},
	{"time not leap day", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2100-02-29T00:00:00Z"}`, true},
	{"time comma", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00,5Z"}`, true},
	{"time lower case", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01t10:00:00z"}`, true},
	{"time hour 24", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T24:00:00Z"}`, true},
	{"time zone 24", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00+24:00"}`, true},
	{"time escaped", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00\u005a"}`, true},
	{"time duplicate", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","occurred_at":"2027-03-01T10:00:00Z"}`, true},
	{"time then null", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","occurred_at":null}`, true},
	{"time bad", `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"yesterday"}`, true},
}

func TestDecodeMatchesReference(t *testing.T) {
	for _, tc := range tricky {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode([]byte(tc.in))
			want, werr := reference([]byte(tc.in))
			if diff := sameAs(ev, err, want, werr); diff != "" {
				t.Fatal(diff)
			}
			if tc.fast && !scans([]byte(tc.in)) {
				t.Error("the fast path left it to decodeSlow")
			}
		})
	}
}

func TestDecodeMapsAreNotShared(t *testing.T) {
	in := []byte(tricky[0].in)
	a, _ := Decode(in)
	b, _ := Decode(in)
	a.Properties["campaign"] = "changed"
	a.Contact["new"] = 1.0
	if b.Properties["campaign"] != "partner-referral" || len(b.Contact) != 4 {
		t.Errorf("maps shared between events: %v %v", b.Properties, b.Contact)
	}
}

// TestDecodeConcurrently is for the race detector: the fast path's cache
// of repeated words is shared by all goroutines.
func TestDecodeConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				in := fmt.Sprintf(`{"id":"e%d","type":"t%d","contact_id":"c%d","occurred_at":"2026-03-01T10:00:00Z","properties":{"k%d":"v%d","n":%d}}`, i, i%7, i%50, i%5, (i+g)%60, i%90)
				ev, err := Decode([]byte(in))
				want, werr := reference([]byte(in))
				if diff := sameAs(ev, err, want, werr); diff != "" {
					t.Error(diff)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzFastDecode holds Decode (its fast path) to the reference: the same
// event or the same error for every input.
func FuzzFastDecode(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","properties":{"a":[1,{"b":null}],"n":1e3},"contact":{"s":"\u00e9\ud800"}}`))
	f.Add([]byte(`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","id":"e2"}`))
	f.Add([]byte("{\"id\":\"e\xff1\",\"type\":\"x\",\"contact_id\":\"c1\",\"occurred_at\":\"2026-03-01T10:00:00Z\"}"))
	for _, tc := range tricky {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		want, werr := reference(data)
		if diff := sameAs(ev, err, want, werr); diff != "" {
			t.Fatal(diff)
		}
	})
}

// FuzzTimestamp holds parseTimestamp to time.Parse: whatever it takes, it
// reads as time.Parse does.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{
		"2026-03-01T10:00:00Z", "2026-03-01T10:00:00.5+02:00", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999-23:59", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z",
		"2026-03-01T10:00:00.1234567891+00:00", "2026-03-01T10:00:00,5Z", "2026-13-01T10:00:00Z",
		"2026-03-01T10:00:60Z", "2026-03-01T10:00:00+24:00", "2026-03-01T10:00:00-00:60",
		"0000-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "2026-03-01T10:00:00.Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTimestamp([]byte(s))
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("took %q, which time.Parse refuses: %v", s, err)
		}
		if want = want.UTC(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %v (%#v), want %v (%#v)", s, got, got, want, want)
		}
	})
}
