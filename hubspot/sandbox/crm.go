package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
)

// The sandbox's CRM: contact properties, their definitions and groups, and
// the batch update with HubSpot's limits and error bodies. Contacts are the
// sandbox's (configured, or any id with contacts_auto) until deleted
// through the admin API.

// sandboxCRM is the CRM state; it has its own lock so CRM calls do not
// wait on enrollments.
type sandboxCRM struct {
	mu      sync.Mutex
	props   map[string]hubspot.Property      // definitions by name
	groups  map[string]hubspot.PropertyGroup // by name
	values  map[string]map[string]string     // contact id -> property -> value
	deleted map[string]bool
	updates int // batch update calls answered 200 or 207
}

// defaultContactProperties are a few of HubSpot's own contact properties.
var defaultContactProperties = []hubspot.Property{
	{Name: "email", Label: "Email", Type: "string", FieldType: "text", GroupName: "contactinformation"},
	{Name: "firstname", Label: "First Name", Type: "string", FieldType: "text", GroupName: "contactinformation"},
	{Name: "lastname", Label: "Last Name", Type: "string", FieldType: "text", GroupName: "contactinformation"},
	{Name: "lifecyclestage", Label: "Lifecycle Stage", Type: "enumeration", FieldType: "radio", GroupName: "contactinformation"},
}

func newSandboxCRM() *sandboxCRM {
	c := &sandboxCRM{props: map[string]hubspot.Property{}, groups: map[string]hubspot.PropertyGroup{
		"contactinformation": {Name: "contactinformation", Label: "Contact information"},
	}, values: map[string]map[string]string{}, deleted: map[string]bool{}}
	for _, p := range defaultContactProperties {
		c.props[p.Name] = p
	}
	return c
}

// registerCRM adds the CRM endpoints to the API and admin muxes.
func (s *Sandbox) registerCRM(api, adm *http.ServeMux) {
	s.crm = newSandboxCRM()
	s.registerActivity(api, adm)
	api.HandleFunc("POST /crm/v3/objects/contacts/batch/update", s.batchUpdate)
	api.HandleFunc("GET /crm/v3/objects/contacts/{contactId}", s.getContact)
	api.HandleFunc("GET /crm/v3/properties/contacts/groups/{name}", s.getGroup)
	api.HandleFunc("POST /crm/v3/properties/contacts/groups", s.createGroup)
	api.HandleFunc("GET /crm/v3/properties/contacts/{name}", s.getProperty)
	api.HandleFunc("POST /crm/v3/properties/contacts", s.createProperty)
	// Admin: a contact's properties as HubSpot holds them; delete a contact.
	adm.HandleFunc("GET /_sandbox/crm/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		props, ok := s.ContactProperties(id)
		if !ok {
			adminError(w, http.StatusNotFound, fmt.Sprintf("contact %q does not exist or was deleted", id))
			return
		}
		writeJSON(w, http.StatusOK, hubspot.CRMObject{ID: id, Properties: props})
	})
	adm.HandleFunc("GET /_sandbox/crm/stats", func(w http.ResponseWriter, r *http.Request) {
		s.crm.mu.Lock()
		defer s.crm.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]int{"batch_updates": s.crm.updates, "contacts_with_properties": len(s.crm.values),
			"properties": len(s.crm.props), "deleted_contacts": len(s.crm.deleted)})
	})
	adm.HandleFunc("DELETE /_sandbox/crm/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.DeleteContact(id)
		s.sendWebhooks(hubspot.WebhookEvent{SubscriptionType: "contact.deletion", ObjectID: objectID(id)})
		w.WriteHeader(http.StatusNoContent)
	})
}

// ContactProperties are the property values the sandbox holds for a
// contact (without the defaults HubSpot computes); ok is false for a
// contact that does not exist or was deleted.
func (s *Sandbox) ContactProperties(id string) (map[string]string, bool) {
	if !s.contactExists(id) {
		return nil, false
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.crm.values[id] {
		out[k] = v
	}
	return out, true
}

// DeleteContact deletes a contact: later updates of it fail per record.
func (s *Sandbox) DeleteContact(id string) {
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	s.crm.deleted[id] = true
	delete(s.crm.values, id)
}

// BatchUpdates is the number of batch update calls applied (200 or 207).
func (s *Sandbox) BatchUpdates() int {
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	return s.crm.updates
}

func (s *Sandbox) contactExists(id string) bool {
	s.mu.Lock()
	_, ok := s.contactEmail(id)
	s.mu.Unlock()
	if !ok {
		return false
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	return !s.crm.deleted[id]
}

// propertyProblem is one entry of HubSpot's "Property values were not
// valid" message.
type propertyProblem struct {
	IsValid               bool   `json:"isValid"`
	Message               string `json:"message"`
	Error                 string `json:"error"`
	Name                  string `json:"name"`
	LocalizedErrorMessage string `json:"localizedErrorMessage"`
}

// batchUpdate is POST /crm/v3/objects/contacts/batch/update: at most 100
// inputs; any unknown property or invalid value fails the whole call
// with 400 VALIDATION_ERROR, as HubSpot does; a contact that does not
// exist (or was deleted) fails alone, in a 207 multi-status answer.
func (s *Sandbox) batchUpdate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Inputs []hubspot.BatchInput `json:"inputs"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&req); err != nil {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "Invalid input JSON on line 1: "+err.Error())
		return
	}
	if len(req.Inputs) > hubspot.MaxBatchInputs {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "",
			fmt.Sprintf("Batch input limit exceeded: %d inputs, at most %d", len(req.Inputs), hubspot.MaxBatchInputs))
		return
	}
	s.crm.mu.Lock()
	var problems []propertyProblem
	for _, in := range req.Inputs {
		for name, v := range in.Properties {
			p, ok := s.crm.props[name]
			switch {
			case !ok:
				msg := fmt.Sprintf("Property \"%s\" does not exist", name)
				problems = append(problems, propertyProblem{Message: msg, Error: "PROPERTY_DOESNT_EXIST", Name: name, LocalizedErrorMessage: msg})
			case !validValue(p, v):
				msg := fmt.Sprintf("%s was not a valid %s value for property %s", strconv.Quote(v), p.Type, name)
				problems = append(problems, propertyProblem{Message: msg, Error: "INVALID_" + upper(p.Type), Name: name, LocalizedErrorMessage: msg})
			}
		}
	}
	s.crm.mu.Unlock()
	if len(problems) > 0 {
		detail, _ := json.Marshal(problems)
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "Property values were not valid: "+string(detail))
		return
	}
	now := s.clock().Format(time.RFC3339Nano)
	res := hubspot.BatchResult{Status: "COMPLETE", Results: []hubspot.CRMObject{}}
	var missing []string
	for _, in := range req.Inputs {
		if !s.contactExists(in.ID) {
			missing = append(missing, in.ID)
			continue
		}
		s.crm.mu.Lock()
		vals := s.crm.values[in.ID]
		if vals == nil {
			vals = map[string]string{}
			s.crm.values[in.ID] = vals
		}
		props := map[string]string{}
		for k, v := range in.Properties {
			vals[k] = v
			props[k] = v
		}
		s.crm.mu.Unlock()
		res.Results = append(res.Results, hubspot.CRMObject{ID: in.ID, Properties: props, UpdatedAt: now})
	}
	s.crm.mu.Lock()
	s.crm.updates++
	s.crm.mu.Unlock()
	status := http.StatusOK
	if len(missing) > 0 {
		status = http.StatusMultiStatus
		slices.Sort(missing)
		res.NumErrors = len(missing)
		res.Errors = []hubspot.BatchError{{Status: "error", Category: "OBJECT_NOT_FOUND",
			Message: "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
			Context: map[string][]string{"ids": missing}}}
	}
	writeJSON(w, status, res)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// validValue: "" clears any property; numbers must parse; datetimes are
// milliseconds since the epoch or an ISO date.
func validValue(p hubspot.Property, v string) bool {
	if v == "" {
		return true
	}
	switch p.Type {
	case "number":
		_, err := strconv.ParseFloat(v, 64)
		return err == nil
	case "datetime", "date":
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return true
		}
		_, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			_, err = time.Parse(time.DateOnly, v)
		}
		return err == nil
	}
	return true
}

func (s *Sandbox) getProperty(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.crm.mu.Lock()
	p, ok := s.crm.props[name]
	s.crm.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Unable to find property %s for object type 0-1", name))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

var propertyTypes = map[string]bool{"string": true, "number": true, "datetime": true, "date": true, "enumeration": true, "bool": true}

func (s *Sandbox) createProperty(w http.ResponseWriter, r *http.Request) {
	var p hubspot.Property
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&p); err != nil {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "Invalid input JSON: "+err.Error())
		return
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	switch {
	case p.Name == "" || p.Label == "" || p.FieldType == "" || p.GroupName == "":
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "name, label, type, fieldType and groupName are required")
	case !propertyTypes[p.Type]:
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", fmt.Sprintf("%q is not a valid property type", p.Type))
	case s.crm.groups[p.GroupName].Name == "":
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", fmt.Sprintf("group %s does not exist", p.GroupName))
	case s.crm.props[p.Name].Name != "":
		writeError(w, r, http.StatusConflict, "OBJECT_ALREADY_EXISTS", "", fmt.Sprintf("A property named '%s' already exists.", p.Name))
	default:
		s.crm.props[p.Name] = p
		writeJSON(w, http.StatusCreated, p)
	}
}

func (s *Sandbox) getGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.crm.mu.Lock()
	g, ok := s.crm.groups[name]
	s.crm.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Unable to find property group %s for object type 0-1", name))
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Sandbox) createGroup(w http.ResponseWriter, r *http.Request) {
	var g hubspot.PropertyGroup
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14)).Decode(&g); err != nil || g.Name == "" || g.Label == "" {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "name and label are required")
		return
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	if _, ok := s.crm.groups[g.Name]; ok {
		writeError(w, r, http.StatusConflict, "OBJECT_ALREADY_EXISTS", "", fmt.Sprintf("A property group named '%s' already exists.", g.Name))
		return
	}
	s.crm.groups[g.Name] = g
	writeJSON(w, http.StatusCreated, g)
}

// getContact is GET /crm/v3/objects/contacts/{id}?properties=a,b: the
// properties asked for (null when never set), 404 for a contact that does
// not exist or was deleted.
func (s *Sandbox) getContact(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("contactId")
	if r.URL.Query().Get("idProperty") == "email" {
		s.mu.Lock()
		vid, ok := s.contactByEmail(id)
		s.mu.Unlock()
		if !ok {
			writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", "Object not found.  objectId are usually numeric.")
			return
		}
		id = vid
	}
	props, ok := s.ContactProperties(id)
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", "Object not found.  objectId are usually numeric.")
		return
	}
	out := map[string]*string{}
	for _, name := range strings.Split(r.URL.Query().Get("properties"), ",") {
		if name == "" {
			continue
		}
		if v, set := props[name]; set {
			out[name] = &v
		} else {
			out[name] = nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "properties": out, "archived": false})
}
