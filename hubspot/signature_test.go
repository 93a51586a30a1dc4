package hubspot

import (
	"errors"
	"testing"
	"time"
)

// The expected signature was computed apart from this code (Python's hmac
// and base64 over the documented concatenation); %3A in the URI is
// decoded before signing, as HubSpot documents.
func TestSignatureV3(t *testing.T) {
	secret := []byte("client-secret-123")
	body := []byte(`[{"eventId":1}]`)
	const ts = "1795168680000"
	const want = "TkR/vac2aCJEygujT5iNE7Qfn8Ity+jXH0rW+LukLFI="
	uri := "https://hooks.example.com:8443/hubspot/webhooks?x=1&y=a%3Ab"
	if got := SignV3(secret, "POST", uri, body, ts); got != want {
		t.Fatalf("SignV3 = %s, want %s", got, want)
	}
	at := time.UnixMilli(1795168680000)
	cases := []struct {
		name                 string
		method, uri, ts, sig string
		body                 string
		now                  time.Time
		want                 error
	}{
		{"valid", "POST", uri, ts, want, string(body), at.Add(time.Minute), nil},
		{"valid, decoded URI", "POST", "https://hooks.example.com:8443/hubspot/webhooks?x=1&y=a:b", ts, want, string(body), at, nil},
		{"stale", "POST", uri, ts, want, string(body), at.Add(5*time.Minute + time.Second), ErrStale},
		{"from the future", "POST", uri, ts, want, string(body), at.Add(-6 * time.Minute), ErrStale},
		{"body changed", "POST", uri, ts, want, `[{"eventId":2}]`, at, ErrBadSignature},
		{"other secret's", "POST", uri, ts, SignV3([]byte("nope"), "POST", uri, body, ts), string(body), at, ErrBadSignature},
		{"method", "PUT", uri, ts, want, string(body), at, ErrBadSignature},
		{"no signature", "POST", uri, ts, "", string(body), at, ErrNoSignature},
		{"no timestamp", "POST", uri, "", want, string(body), at, ErrNoSignature},
		{"timestamp not ms", "POST", uri, "yesterday", want, string(body), at, ErrStale},
	}
	for _, tc := range cases {
		err := VerifyV3(secret, tc.method, tc.uri, []byte(tc.body), tc.ts, tc.sig, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: VerifyV3 = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzVerifyV3(f *testing.F) {
	f.Add("POST", "https://x/y?z=%3A", []byte("[]"), "1795168680000", "abc")
	f.Fuzz(func(t *testing.T, method, uri string, body []byte, ts, sig string) {
		at := time.UnixMilli(1795168680000)
		_ = VerifyV3([]byte("s"), method, uri, body, ts, sig, at)
		good := SignV3([]byte("s"), method, uri, body, "1795168680000")
		if err := VerifyV3([]byte("s"), method, uri, body, "1795168680000", good, at); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
	})
}
