package hubspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HubSpot signs the requests it sends (webhooks) with X-HubSpot-Signature-v3:
// base64(HMAC-SHA256(client secret, method + URI + body + timestamp)), where
// the URI is the full URL HubSpot called with these URL-encoded characters
// decoded: : / ? @ ! $ ' ( ) * , ; and the timestamp is the
// X-HubSpot-Request-Timestamp header (ms since the epoch). A request older
// than five minutes is rejected.

// Headers of a signed request.
const (
	SignatureV3Header = "X-HubSpot-Signature-v3"
	TimestampHeader   = "X-HubSpot-Request-Timestamp"
	// MaxSignatureAge is how old a signed request may be.
	MaxSignatureAge = 5 * time.Minute
)

var uriDecoder = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$", "%27", "'",
	"%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// SignV3 is the X-HubSpot-Signature-v3 of a request.
func SignV3(secret []byte, method, uri string, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(method))
	m.Write([]byte(uriDecoder.Replace(uri)))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of VerifyV3; every one means the request is not HubSpot's.
var (
	ErrNoSignature  = errors.New("no X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp header")
	ErrStale        = errors.New("request timestamp older than 5 minutes (or in the future)")
	ErrBadSignature = errors.New("signature does not match")
)

// VerifyV3 checks a request's signature at time now, comparing in
// constant time. A timestamp more than five minutes away from now, in
// either direction, is rejected.
func VerifyV3(secret []byte, method, uri string, body []byte, timestamp, signature string, now time.Time) error {
	if signature == "" || timestamp == "" {
		return ErrNoSignature
	}
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not milliseconds", ErrStale, timestamp)
	}
	if age := now.Sub(time.UnixMilli(ms)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return fmt.Errorf("%w: %s", ErrStale, age.Round(time.Second))
	}
	want := SignV3(secret, method, uri, body, timestamp)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}
