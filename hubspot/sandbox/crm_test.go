package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

// The CRM through the client over HTTP: a group and properties created
// once (conflicts on the second try), batch updates stored, a deleted
// contact failing alone in a 207, and HubSpot's 400s for too many inputs
// and unknown properties, with HubSpot's error body.
func TestSandboxCRM(t *testing.T) {
	sb, srv := sandboxtest.Start(t, nil)
	c, audit := sandboxtest.NewClient(t, srv.URL, nil)
	ctx := context.Background()

	if _, err := c.GetContactPropertyGroup(ctx, "scorebridge"); !errors.Is(err, hubspot.ErrNotFound) {
		t.Fatalf("missing group: %v, want ErrNotFound", err)
	}
	if _, err := c.CreateContactPropertyGroup(ctx, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	var ae *hubspot.APIError
	if _, err := c.CreateContactPropertyGroup(ctx, hubspot.PropertyGroup{Name: "scorebridge", Label: "x"}); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("second group: %v, want 409", err)
	}
	score := hubspot.Property{Name: "sb_score", Label: "Score", Type: "number", FieldType: "number", GroupName: "scorebridge"}
	if _, err := c.CreateContactProperty(ctx, score); err != nil {
		t.Fatal(err)
	}
	if p, err := c.GetContactProperty(ctx, "sb_score"); err != nil || p.Type != "number" || p.GroupName != "scorebridge" {
		t.Fatalf("GetContactProperty = %+v, %v", p, err)
	}
	bad := hubspot.Property{Name: "sb_x", Label: "X", Type: "number", FieldType: "number", GroupName: "nope"}
	if _, err := c.CreateContactProperty(ctx, bad); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("property in a missing group: %v, want 400", err)
	}

	sb.DeleteContact("2002")
	res, err := c.BatchUpdateContacts(ctx, []hubspot.BatchInput{
		{ID: "2001", Properties: map[string]string{"sb_score": "44.5"}},
		{ID: "2002", Properties: map[string]string{"sb_score": "12"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := res.Failed()
	if len(res.Results) != 1 || res.Results[0].ID != "2001" || len(failed) != 1 || failed["2002"].Category != "OBJECT_NOT_FOUND" || res.NumErrors != 1 {
		t.Fatalf("batch with a deleted contact: %+v", res)
	}
	if calls := audit.Ops("batch_update_contacts"); len(calls) != 1 || calls[0].Status != http.StatusMultiStatus {
		t.Fatalf("audited %+v, want one 207", calls)
	}
	if props, ok := sb.ContactProperties("2001"); !ok || props["sb_score"] != "44.5" {
		t.Fatalf("stored %v, %v", props, ok)
	}
	if _, ok := sb.ContactProperties("2002"); ok {
		t.Fatal("a deleted contact still has properties")
	}

	// 400s fail the whole call, nothing stored, not retried.
	_, err = c.BatchUpdateContacts(ctx, []hubspot.BatchInput{{ID: "2001", Properties: map[string]string{"sb_score": "1", "no_such": "x"}}})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Category != "VALIDATION_ERROR" ||
		!strings.Contains(ae.Message, `Property values were not valid: [{"isValid":false,"message":"Property \"no_such\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"no_such"`) {
		t.Fatalf("unknown property: %v", err)
	}
	_, err = c.BatchUpdateContacts(ctx, []hubspot.BatchInput{{ID: "2001", Properties: map[string]string{"sb_score": "many"}}})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "INVALID_NUMBER") {
		t.Fatalf("a number property given a word: %v", err)
	}
	if props, _ := sb.ContactProperties("2001"); props["sb_score"] != "44.5" {
		t.Fatalf("a refused call changed a value: %v", props)
	}
	// The client refuses more than 100 inputs itself; the sandbox too.
	many := make([]hubspot.BatchInput, 101)
	body := `{"inputs":[`
	for i := range many {
		many[i] = hubspot.BatchInput{ID: fmt.Sprint(3000 + i), Properties: map[string]string{"sb_score": "1"}}
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"id":"%d","properties":{"sb_score":"1"}}`, 3000+i)
	}
	body += `]}`
	if _, err := c.BatchUpdateContacts(ctx, many); err == nil {
		t.Fatal("the client sent 101 inputs")
	}
	resp, m := raw(t, srv, http.MethodPost, "/crm/v3/objects/contacts/batch/update", sandboxtest.Token, body)
	if resp.StatusCode != http.StatusBadRequest || m["category"] != "VALIDATION_ERROR" || m["correlationId"] == "" {
		t.Fatalf("101 inputs: %d %v", resp.StatusCode, m)
	}
	if n := sb.BatchUpdates(); n != 1 {
		t.Fatalf("%d batch updates applied, want 1", n)
	}
}

// A low-priority caller yields the limiter: with a backlog of write-back
// calls queued, an ordinary call waits for at most one of them.
func TestLowPriorityYields(t *testing.T) {
	_, srv := sandboxtest.Start(t, nil)
	// 5 requests a second: one slot every 250 ms.
	c, audit := sandboxtest.NewClient(t, srv.URL, func(cfg *hubspot.ClientConfig) { cfg.RequestsPerInterval, cfg.Interval = 5, time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	low := hubspot.WithLowPriority(ctx)
	for range 4 {
		go func() {
			for ctx.Err() == nil {
				c.GetContactProperty(low, "email")
			}
		}()
	}
	time.Sleep(600 * time.Millisecond) // the backlog is there
	start := time.Now()
	if _, err := c.GetContactPropertyGroup(ctx, "contactinformation"); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(start)
	cancel()
	// One slot is 250 ms; four low-priority callers queued ahead would be
	// a second.
	if waited > 600*time.Millisecond {
		t.Fatalf("the ordinary call waited %s behind low-priority calls", waited)
	}
	if n := len(audit.Ops("get_property")); n < 2 {
		t.Fatalf("only %d low-priority calls ran: no backlog", n)
	}
	t.Logf("ordinary call admitted in %s with 4 low-priority callers waiting", waited)
}

// Companies through the client over HTTP, as contacts: their own property
// group and properties (a contact property of the same name is not a
// company one), batch updates stored, a deleted or unknown company
// failing alone in a 207 naming COMPANY objects, HubSpot's 400s for an
// unknown property and more than 100 inputs, and a company read by id.
func TestSandboxCompanies(t *testing.T) {
	sb, srv := sandboxtest.Start(t, func(c *sandbox.Config) {
		c.Companies = []sandbox.CompanyConfig{{ID: "501", Name: "Acme", Domain: "acme.example"}, {ID: "502", Name: "Globex"}, {ID: "503"}}
	})
	c, audit := sandboxtest.NewClient(t, srv.URL, nil)
	ctx := context.Background()

	if _, err := c.GetPropertyGroup(ctx, hubspot.ObjectCompanies, "scorebridge"); !errors.Is(err, hubspot.ErrNotFound) {
		t.Fatalf("missing group: %v, want ErrNotFound", err)
	}
	if _, err := c.CreateContactPropertyGroup(ctx, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPropertyGroup(ctx, hubspot.ObjectCompanies, "scorebridge"); !errors.Is(err, hubspot.ErrNotFound) {
		t.Fatalf("a contact group is a company group: %v", err)
	}
	if _, err := c.CreatePropertyGroup(ctx, hubspot.ObjectCompanies, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	var ae *hubspot.APIError
	if _, err := c.CreatePropertyGroup(ctx, hubspot.ObjectCompanies, hubspot.PropertyGroup{Name: "scorebridge", Label: "x"}); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("second group: %v, want 409", err)
	}
	score := hubspot.Property{Name: "sb_score", Label: "Score", Type: "number", FieldType: "number", GroupName: "scorebridge"}
	if _, err := c.CreateContactProperty(ctx, score); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProperty(ctx, hubspot.ObjectCompanies, "sb_score"); !errors.Is(err, hubspot.ErrNotFound) || !strings.Contains(err.Error(), "object type 0-2") {
		t.Fatalf("a contact property read as a company one: %v", err)
	}
	// A company update naming a contact-only property: 400, as HubSpot.
	_, err := c.BatchUpdate(ctx, hubspot.ObjectCompanies, []hubspot.BatchInput{{ID: "501", Properties: map[string]string{"sb_score": "1"}}})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, `Property \"sb_score\" does not exist`) {
		t.Fatalf("a contact property on a company: %v", err)
	}
	if _, err := c.CreateProperty(ctx, hubspot.ObjectCompanies, score); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProperty(ctx, hubspot.ObjectCompanies, score); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("second property: %v, want 409", err)
	}
	if p, err := c.GetProperty(ctx, hubspot.ObjectCompanies, "sb_score"); err != nil || p.Type != "number" {
		t.Fatalf("GetProperty = %+v, %v", p, err)
	}

	sb.DeleteCompany("502")
	res, err := c.BatchUpdate(ctx, hubspot.ObjectCompanies, []hubspot.BatchInput{
		{ID: "501", Properties: map[string]string{"sb_score": "95"}},
		{ID: "502", Properties: map[string]string{"sb_score": "12"}},
		{ID: "999", Properties: map[string]string{"sb_score": "3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := res.Failed()
	if len(res.Results) != 1 || res.Results[0].ID != "501" || len(failed) != 2 || res.NumErrors != 2 ||
		failed["502"].Category != "OBJECT_NOT_FOUND" || !strings.Contains(failed["999"].Message, "COMPANY objects") {
		t.Fatalf("batch with a deleted and an unknown company: %+v", res)
	}
	if calls := audit.Ops("batch_update_companies"); len(calls) != 2 || calls[1].Status != http.StatusMultiStatus {
		t.Fatalf("audited %+v, want a 400 then a 207", calls)
	}
	got, err := c.GetCompany(ctx, "501", []string{"sb_score", "name", "domain"})
	if err != nil || got.ID != "501" || got.Properties["sb_score"] != "95" || got.Properties["name"] != "Acme" || got.Properties["domain"] != "acme.example" {
		t.Fatalf("GetCompany = %+v, %v", got, err)
	}
	if got, err := c.GetCompany(ctx, "503", []string{"sb_score"}); err != nil || got.Properties["sb_score"] != "" {
		t.Fatalf("a company never written: %+v, %v", got, err)
	}
	if _, err := c.GetCompany(ctx, "502", nil); !errors.Is(err, hubspot.ErrNotFound) {
		t.Fatalf("deleted company: %v", err)
	}
	if props, ok := sb.ContactProperties("501"); ok && props["sb_score"] != "" {
		t.Fatal("a company update wrote a contact")
	}
	_, err = c.BatchUpdate(ctx, hubspot.ObjectCompanies, []hubspot.BatchInput{{ID: "501", Properties: map[string]string{"sb_score": "many"}}})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "INVALID_NUMBER") {
		t.Fatalf("a number property given a word: %v", err)
	}
	body := `{"inputs":[` + strings.Repeat(`{"id":"501","properties":{"sb_score":"1"}},`, 100) + `{"id":"501","properties":{"sb_score":"1"}}]}`
	resp, m := raw(t, srv, http.MethodPost, "/crm/v3/objects/companies/batch/update", sandboxtest.Token, body)
	if resp.StatusCode != http.StatusBadRequest || m["category"] != "VALIDATION_ERROR" || !strings.Contains(m["message"].(string), "Batch input limit exceeded") {
		t.Fatalf("101 inputs: %d %v", resp.StatusCode, m)
	}
	if n, nc := sb.CompanyBatchUpdates(), sb.BatchUpdates(); n != 1 || nc != 0 {
		t.Fatalf("%d company and %d contact batch updates applied, want 1 and 0", n, nc)
	}
	// companies_auto: any id exists.
	sb2, srv2 := sandboxtest.Start(t, func(c *sandbox.Config) { c.CompaniesAuto = true })
	c2, _ := sandboxtest.NewClient(t, srv2.URL, nil)
	c2.CreatePropertyGroup(ctx, hubspot.ObjectCompanies, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"})
	c2.CreateProperty(ctx, hubspot.ObjectCompanies, score)
	if res, err := c2.BatchUpdate(ctx, hubspot.ObjectCompanies, []hubspot.BatchInput{{ID: "co07", Properties: map[string]string{"sb_score": "7"}}}); err != nil || len(res.Errors) > 0 {
		t.Fatalf("companies_auto: %+v %v", res, err)
	}
	if props, ok := sb2.CompanyProperties("co07"); !ok || props["sb_score"] != "7" {
		t.Fatalf("companies_auto stored %v %v", props, ok)
	}
}
