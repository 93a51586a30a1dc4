// Package studio is Score Studio: a web console over the scoring core for
// the people who tune scores. It serves pages (HTML, CSS, JavaScript and
// SVG charts, all embedded: no CDN, no network at run time), each backed
// by a JSON endpoint under /api/ that returns exactly what the page shows:
// the overview of the live rules over a history, one contact's score taken
// apart, the preview of a rule change (who newly crosses), and the
// bridge's and scorer's own figures read from their HTTP endpoints.
//
// It reads the live rules and never writes them: a preview works on a
// copy, and saving writes a new file only where the user says. It must not
// talk to Kafka; the history comes in as a backtest.History.
package studio
