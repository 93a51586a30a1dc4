// Package hubspot talks to HubSpot's Sequences API v4 and the legacy
// Workflows API v2 enrollment endpoints.
//
// Client is the only way scorebridge reaches HubSpot: it rate-limits on the
// client side, retries what is safe to retry, never retries an enrollment
// whose outcome is unknown without first asking HubSpot, and reports every
// request and response to an audit hook with the token removed. The wire
// types, error documents, send-window arithmetic and webhook signatures
// here are shared with the local imitation of HubSpot, package
// hubspot/sandbox, which imports this package (never the other way round).
//
// The package must not decide whether a contact should be enrolled; that is
// the enrollment package's job. It must never log or return the token.
package hubspot
