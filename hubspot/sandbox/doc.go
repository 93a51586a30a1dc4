// Package sandbox imitates HubSpot locally: Sandbox is an http.Handler
// that answers the Sequences (both API versions), Workflows v2, CRM
// contact and property, and email events endpoints with HubSpot's
// behaviour (one active sequence per contact, per-inbox send caps, a
// rolling 10-second request limit, 401/404/429), sends signed webhooks for
// its own contact changes, and takes injectable faults through its admin
// API under /_sandbox/, so that tests, the demo and users can exercise the
// bridge without a portal (`bridge sandbox`, docs/hubspot-sandbox.md).
//
// It shares the wire types, error documents, send-window arithmetic and
// signatures with the client in package hubspot; the client never imports
// it.
package sandbox
