// Package docscheck holds tests that hold the documentation to the code
// across packages: what the docs name must exist, what the code exports
// must be documented; and the module-wide rules the docs promise of the
// code (every backoff from cenkalti/backoff).
package docscheck
