// Package events defines the two messages that travel between scorebridge's
// services: the engagement Event the scorer consumes and the Crossing it
// announces to the bridge. It decodes and validates them strictly, naming
// the field at fault, and must not know about rules, Kafka or storage.
package events
