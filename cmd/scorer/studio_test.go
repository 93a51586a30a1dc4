package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/studio"
)

// studioOver is a studio over the history studioHistory reads, as
// `scorer studio` serves it.
func studioOver(t *testing.T, input, dsn string) *httptest.Server {
	t.Helper()
	source, watch, load := studioHistory(input, dsn)
	h, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := studio.New(studio.Config{Rules: []string{rulesDir}, History: h, Source: source, Watch: watch, Reload: load, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func getJSON(t *testing.T, method, url string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

// TestStudioReloadFromClickHouse: `scorer studio --clickhouse` reads the
// history ClickHouse holds; events imported afterwards are not seen on a
// page load, and POST /api/reload?history=1 exports the history again:
// then every model's figures are those of a studio over the file of all
// the events imported.
func TestStudioReloadFromClickHouse(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_studio")
	if _, errOut, code := runScorer(t, "", "import", "--rules", rulesDir, "--events", sample, "--clickhouse", dsn); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	ts := studioOver(t, "", dsn)
	var before studio.Overview
	getJSON(t, "GET", ts.URL+"/api/overview", &before)
	if !before.Loaded.HistoryOnRequest || before.History.Contacts == 0 {
		t.Fatalf("the ClickHouse history as loaded: %+v, %+v", before.Loaded, before.History)
	}

	// More events: every event of the sample again for contacts of their
	// own (more-c-...), imported as a second backfill.
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	more := strings.NewReplacer(`"contact_id":"`, `"contact_id":"more-`, `"id":"`, `"id":"more-`).Replace(string(data))
	morePath := filepath.Join(t.TempDir(), "more.jsonl")
	os.WriteFile(morePath, []byte(more), 0o644)
	if _, errOut, code := runScorer(t, "", "import", "--rules", rulesDir, "--events", morePath, "--clickhouse", dsn); code != 0 {
		t.Fatalf("import more: %s", errOut)
	}
	newContact := "more-c-000145"
	if code := getJSON(t, "GET", ts.URL+"/api/contacts/"+newContact, nil); code != 404 {
		t.Fatalf("a contact imported after the studio started: %d before any reload", code)
	}
	getJSON(t, "GET", ts.URL+"/", nil)
	var still studio.Overview
	getJSON(t, "GET", ts.URL+"/api/overview", &still)
	if still.History != before.History {
		t.Errorf("a page load read the ClickHouse history again: %+v, was %+v", still.History, before.History)
	}

	var ans struct {
		Reloaded bool              `json:"reloaded"`
		Status   studio.LoadStatus `json:"status"`
	}
	if code := getJSON(t, "POST", ts.URL+"/api/reload?history=1", &ans); code != 200 || !ans.Reloaded || ans.Status.HistoryError != "" {
		t.Fatalf("POST /api/reload?history=1: %d %+v", code, ans)
	}
	var after studio.Overview
	getJSON(t, "GET", ts.URL+"/api/overview", &after)
	if after.History.Contacts != 2*before.History.Contacts || after.History.Events != 2*before.History.Events || ans.Status.HistoryEvents != after.History.Events {
		t.Errorf("after the reload: %+v (status %d events), before %+v", after.History, ans.Status.HistoryEvents, before.History)
	}
	if code := getJSON(t, "GET", ts.URL+"/api/contacts/"+newContact, nil); code != 200 {
		t.Errorf("the imported contact %s after the reload: %d", newContact, code)
	}
	both := filepath.Join(t.TempDir(), "both.jsonl")
	os.WriteFile(both, append(append([]byte(nil), data...), more...), 0o644)
	var file studio.Overview
	getJSON(t, "GET", studioOver(t, both, "").URL+"/api/overview", &file)
	if !reflect.DeepEqual(after.Models, file.Models) {
		a, _ := json.Marshal(after.Models)
		b, _ := json.Marshal(file.Models)
		t.Errorf("the reloaded ClickHouse history's models differ from the file's:\n%s", firstDiff(string(bytes.ReplaceAll(a, []byte("},"), []byte("},\n"))), string(bytes.ReplaceAll(b, []byte("},"), []byte("},\n")))))
	}
}
