// Package synth generates realistic, deterministic engagement streams:
// many contacts, companies and owners, a few weeks of events whose mix and
// properties look like a B2B funnel. Tests, benchmarks and the demo use it;
// the same seed always gives the same stream. It must not depend on rules.
package synth
