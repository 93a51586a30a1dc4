// Package writeback keeps HubSpot contact properties equal to the scores
// on the lead-scores topic: it consumes the topic in its own consumer
// group, coalesces each contact's messages over a flush interval (latest
// wins, and only a move of min_delta or a threshold change is written),
// and writes them with CRM batch updates of up to 100 contacts through the
// bridge's HubSpot client, at low priority so enrollments go first. An
// offset is committed only once every contact write it implies was
// acknowledged by HubSpot or recorded as failed.
//
// It does not decide enrollments (package enrollment) and does not score
// (package scoring); cmd/bridge wires it.
package writeback
