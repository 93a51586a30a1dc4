// Package hubspot talks to HubSpot's Sequences API v4 and the legacy
// Workflows API v2 enrollment endpoints, and imitates them locally.
//
// Client is the only way scorebridge reaches HubSpot: it rate-limits on the
// client side, retries what is safe to retry, never retries an enrollment
// whose outcome is unknown without first asking HubSpot, and reports every
// request and response to an audit hook with the token removed.
//
// Sandbox is an http.Handler that answers those endpoints with HubSpot's
// behaviour (one active sequence per contact, per-inbox send caps, a rolling
// 10-second request limit, 401/404/429) plus injectable faults, so that tests,
// the demo and users can exercise the bridge without a portal.
//
// The package must not decide whether a contact should be enrolled; that is
// the enrollment package's job. It must never log or return the token.
package hubspot
