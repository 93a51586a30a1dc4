package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBatchInputs is HubSpot's limit of inputs per CRM batch call.
const MaxBatchInputs = 100

// BatchInput is one record of a CRM batch update: property values by name
// ("" clears a value).
type BatchInput struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
}

// BatchResult is HubSpot's answer to a batch update: 200 when every input
// was applied, 207 (multi-status) with per-record Errors otherwise.
type BatchResult struct {
	Status    string         `json:"status"`
	Results   []CRMObject    `json:"results"`
	NumErrors int            `json:"numErrors,omitempty"`
	Errors    []BatchError   `json:"errors,omitempty"`
	Links     map[string]any `json:"links,omitempty"`
}

// CRMObject is a record as HubSpot returns it.
type CRMObject struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
	CreatedAt  string            `json:"createdAt,omitempty"`
	UpdatedAt  string            `json:"updatedAt,omitempty"`
	Archived   bool              `json:"archived"`
}

// BatchError is a per-record failure of a batch call; Context["ids"]
// names the records.
type BatchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context,omitempty"`
}

// Failed maps each failed record id to its error.
func (r *BatchResult) Failed() map[string]BatchError {
	out := map[string]BatchError{}
	for _, e := range r.Errors {
		for _, id := range e.Context["ids"] {
			out[id] = e
		}
	}
	return out
}

// CRM object types, as the v3 API's paths name them.
const (
	ObjectContacts  = "contacts"
	ObjectCompanies = "companies"
)

// BatchUpdateContacts sets contact properties, up to MaxBatchInputs
// contacts per call: BatchUpdate of contacts.
func (c *Client) BatchUpdateContacts(ctx context.Context, inputs []BatchInput) (*BatchResult, error) {
	return c.BatchUpdate(ctx, ObjectContacts, inputs)
}

// BatchUpdate sets properties of records of an object type (contacts,
// companies), up to MaxBatchInputs records per call
// (POST /crm/v3/objects/{type}/batch/update). Writing the same values
// twice is harmless, so every failure that may succeed later (429, 5xx, a
// timeout) is retried as any idempotent call. A 207 is not an error: see
// BatchResult.Failed.
func (c *Client) BatchUpdate(ctx context.Context, objectType string, inputs []BatchInput) (*BatchResult, error) {
	if len(inputs) == 0 || len(inputs) > MaxBatchInputs {
		return nil, fmt.Errorf("hubspot batch update of %s: %d inputs, want 1 to %d", objectType, len(inputs), MaxBatchInputs)
	}
	body, err := json.Marshal(map[string]any{"inputs": inputs})
	if err != nil {
		return nil, err
	}
	var res BatchResult
	if err := c.call(ctx, "batch_update_"+objectType, http.MethodPost, "/crm/v3/objects/"+url.PathEscape(objectType)+"/batch/update", nil, body, &res, false); err != nil {
		return nil, err
	}
	return &res, nil
}

// Property is a CRM property definition.
type Property struct {
	Name      string `json:"name"`
	Label     string `json:"label"`
	Type      string `json:"type"`      // string, number, datetime, enumeration, ...
	FieldType string `json:"fieldType"` // text, number, date, ...
	GroupName string `json:"groupName"`
	// Description is shown in HubSpot's property settings.
	Description string `json:"description,omitempty"`
}

// PropertyGroup groups properties in HubSpot's settings and record views.
type PropertyGroup struct {
	Name         string `json:"name"`
	Label        string `json:"label"`
	DisplayOrder int    `json:"displayOrder,omitempty"`
}

// ErrNotFound is a 404: the object asked for does not exist.
var ErrNotFound = errors.New("hubspot: not found")

func notFound(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// GetContactProperty reads a contact property's definition; ErrNotFound
// when there is none.
func (c *Client) GetContactProperty(ctx context.Context, name string) (*Property, error) {
	return c.GetProperty(ctx, ObjectContacts, name)
}

// CreateContactProperty creates a contact property.
func (c *Client) CreateContactProperty(ctx context.Context, p Property) (*Property, error) {
	return c.CreateProperty(ctx, ObjectContacts, p)
}

// GetContactPropertyGroup reads a contact property group; ErrNotFound
// when there is none.
func (c *Client) GetContactPropertyGroup(ctx context.Context, name string) (*PropertyGroup, error) {
	return c.GetPropertyGroup(ctx, ObjectContacts, name)
}

// CreateContactPropertyGroup creates a contact property group.
func (c *Client) CreateContactPropertyGroup(ctx context.Context, g PropertyGroup) (*PropertyGroup, error) {
	return c.CreatePropertyGroup(ctx, ObjectContacts, g)
}

// GetProperty reads the definition of a property of an object type;
// ErrNotFound when there is none.
func (c *Client) GetProperty(ctx context.Context, objectType, name string) (*Property, error) {
	var p Property
	err := c.call(ctx, "get_property", http.MethodGet, "/crm/v3/properties/"+url.PathEscape(objectType)+"/"+url.PathEscape(name), nil, nil, &p, false)
	if err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}

// CreateProperty creates a property of an object type.
func (c *Client) CreateProperty(ctx context.Context, objectType string, p Property) (*Property, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out Property
	if err := c.call(ctx, "create_property", http.MethodPost, "/crm/v3/properties/"+url.PathEscape(objectType), nil, body, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPropertyGroup reads a property group of an object type; ErrNotFound
// when there is none.
func (c *Client) GetPropertyGroup(ctx context.Context, objectType, name string) (*PropertyGroup, error) {
	var g PropertyGroup
	err := c.call(ctx, "get_property_group", http.MethodGet, "/crm/v3/properties/"+url.PathEscape(objectType)+"/groups/"+url.PathEscape(name), nil, nil, &g, false)
	if err != nil {
		return nil, notFound(err)
	}
	return &g, nil
}

// CreatePropertyGroup creates a property group of an object type.
func (c *Client) CreatePropertyGroup(ctx context.Context, objectType string, g PropertyGroup) (*PropertyGroup, error) {
	body, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	var out PropertyGroup
	if err := c.call(ctx, "create_property_group", http.MethodPost, "/crm/v3/properties/"+url.PathEscape(objectType)+"/groups", nil, body, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCompany reads a company with the named properties; ErrNotFound when
// it does not exist (or was deleted).
func (c *Client) GetCompany(ctx context.Context, id string, properties []string) (*CRMObject, error) {
	var o CRMObject
	q := url.Values{}
	if len(properties) > 0 {
		q.Set("properties", strings.Join(properties, ","))
	}
	if err := c.call(ctx, "get_company", http.MethodGet, "/crm/v3/objects/companies/"+url.PathEscape(id), q, nil, &o, false); err != nil {
		return nil, notFound(err)
	}
	return &o, nil
}

// GetContact reads a contact with the named properties; ErrNotFound when
// it does not exist (or was deleted).
func (c *Client) GetContact(ctx context.Context, id string, properties []string) (*CRMObject, error) {
	var o CRMObject
	q := url.Values{}
	if len(properties) > 0 {
		q.Set("properties", strings.Join(properties, ","))
	}
	ctx = withSubject(ctx, id, "")
	if err := c.call(ctx, "get_contact", http.MethodGet, "/crm/v3/objects/contacts/"+url.PathEscape(id), q, nil, &o, false); err != nil {
		return nil, notFound(err)
	}
	return &o, nil
}

// ContactIDByEmail is the id of the contact with this email
// (GET /crm/v3/objects/contacts/{email}?idProperty=email); ErrNotFound
// when HubSpot has none.
func (c *Client) ContactIDByEmail(ctx context.Context, email string) (string, error) {
	var o CRMObject
	ctx = withSubject(ctx, "", email)
	q := url.Values{"idProperty": {"email"}}
	if err := c.call(ctx, "get_contact_by_email", http.MethodGet, "/crm/v3/objects/contacts/"+url.PathEscape(email), q, nil, &o, false); err != nil {
		return "", notFound(err)
	}
	if o.ID == "" {
		return "", fmt.Errorf("contact by email %q: HubSpot answered no id", email)
	}
	return o.ID, nil
}

// EmailEvents reads a page of the legacy email events API: events created
// from startMs on, oldest first; offset is the previous page's Offset
// ("" for the first).
func (c *Client) EmailEvents(ctx context.Context, startMs int64, offset string, limit int) (*EmailEventsPage, error) {
	q := url.Values{"startTimestamp": {strconv.FormatInt(startMs, 10)}}
	if offset != "" {
		q.Set("offset", offset)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p EmailEventsPage
	if err := c.call(ctx, "email_events", http.MethodGet, "/email/public/v1/events", q, nil, &p, false); err != nil {
		return nil, err
	}
	return &p, nil
}
