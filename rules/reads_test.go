package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReads(t *testing.T) {
	for _, tc := range []struct {
		when, points   string
		props, contact []string // nil with all
		all            bool
	}{
		{when: `event.type == "x"`, props: []string{}, contact: []string{}},
		{when: `event.type == "x" && event.properties.path startsWith "/p"`, props: []string{"path"}, contact: []string{}},
		{when: `contact.email endsWith "@x.com" || contact["lifecycle_stage"] == "lead"`, props: []string{}, contact: []string{"email", "lifecycle_stage"}},
		{when: `event.properties?.a == 1 && event["properties"]["b"] == 2 && event.properties.c.d == 3`, props: []string{"a", "b", "c"}, contact: []string{}},
		{when: `event.id != "" && event.contact_id != "" && event.company_id == "" && event.occurred_at != nil`, props: []string{}, contact: []string{}},
		{when: `event.type == "call"`, points: `event.properties.duration_s >= 60 ? contact.weight : 1`, props: []string{"duration_s"}, contact: []string{"weight"}},
		{when: `len(event.properties.tags) > 0 && any(event.properties.tags, # == "x")`, props: []string{"tags"}, contact: []string{}},
		// Dynamic reads: every key is needed.
		{when: `len(contact) > 2`, all: true},
		{when: `"email" in contact`, all: true},
		{when: `event.properties[event.type] == 1`, all: true},
		{when: `len(keys(event.properties)) > 0`, all: true},
		{when: `$env.contact.email == "x"`, all: true},
		{when: `event.type == "x"`, points: `len(event.properties)`, all: true},
		{when: `any(values(contact), # == "x")`, all: true},
		{when: `let p = event.properties; p.a == 1`, all: true},
	} {
		t.Run(tc.when+" "+tc.points, func(t *testing.T) {
			dir := t.TempDir()
			points := "1"
			if tc.points != "" {
				points = fmt.Sprintf("%q", tc.points)
			}
			yaml := fmt.Sprintf("model: m\nthreshold: 10\ngroups:\n  - name: g\n    when: %q\n    points: %s\n  - name: h\n    when: event.type == \"y\"\n    points: 2\n", tc.when, points)
			if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			set, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			r := set.Reads()
			if r.All != tc.all {
				t.Fatalf("All = %v, want %v (%+v)", r.All, tc.all, r)
			}
			if tc.all {
				if r.Properties != nil || r.Contact != nil {
					t.Errorf("keys listed with All: %+v", r)
				}
				return
			}
			if !slices.Equal(r.Properties, tc.props) || !slices.Equal(r.Contact, tc.contact) {
				t.Errorf("reads %v and %v, want %v and %v", r.Properties, r.Contact, tc.props, tc.contact)
			}
		})
	}
}

func TestReadsSample(t *testing.T) {
	set, err := Load("../testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	r := set.Reads()
	if r.All || !slices.Equal(r.Properties, []string{"duration_s", "form", "path"}) || !slices.Equal(r.Contact, []string{"email"}) {
		t.Errorf("reads %+v", r)
	}
}
