package analytics

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every column the migrations create appears in its table's section of
// docs/analysts.md, so an analyst reading the docs knows what a column
// holds (and who may read it) before querying it.
func TestAnalystsDocListsEveryColumn(t *testing.T) {
	doc, err := os.ReadFile("../docs/analysts.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, part := range strings.Split(string(doc), "\n### `")[1:] {
		name, body, _ := strings.Cut(part, "`")
		sections[name] = body
	}
	create := regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\) ENGINE`)
	column := regexp.MustCompile(`(?m)^\s+(\w+)\s+\S`)
	alter := regexp.MustCompile(`ALTER TABLE (\w+) ADD COLUMN (\w+)`)
	cols := map[string][]string{}
	for _, m := range migrations {
		for _, s := range m.Statements {
			if c := create.FindStringSubmatch(s); c != nil {
				for _, col := range column.FindAllStringSubmatch(c[2], -1) {
					cols[c[1]] = append(cols[c[1]], col[1])
				}
			}
			for _, a := range alter.FindAllStringSubmatch(s, -1) {
				cols[a[1]] = append(cols[a[1]], a[2])
			}
		}
	}
	if len(cols["touches"]) < 10 {
		t.Fatalf("parsed only %v from the migrations", cols["touches"])
	}
	cell := regexp.MustCompile(`(?m)^\| ([^|]+) \|`)
	for table, names := range cols {
		body, ok := sections[table]
		if !ok {
			t.Errorf("docs/analysts.md has no section for table %s", table)
			continue
		}
		documented := map[string]bool{}
		for _, c := range cell.FindAllStringSubmatch(body, -1) {
			for _, n := range regexp.MustCompile(`\w+`).FindAllString(c[1], -1) {
				documented[n] = true
			}
		}
		for _, n := range names {
			if !documented[n] {
				t.Errorf("docs/analysts.md, table %s: column %s is not documented", table, n)
			}
		}
	}
}
