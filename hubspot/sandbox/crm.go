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

// The sandbox's CRM: contact and company properties, their definitions
// and groups (each object type has its own), the batch updates with
// HubSpot's limits and error bodies, and reading a record by id. Contacts
// are the sandbox's (configured, or any id with contacts_auto), companies
// likewise (companies, companies_auto), until deleted through the admin
// API.

// crmType is one object type's CRM state.
type crmType struct {
	name    string                           // contacts, companies: the path segment
	typeID  string                           // HubSpot's object type id in messages: 0-1, 0-2
	noun    string                           // CONTACT, COMPANY in batch errors
	props   map[string]hubspot.Property      // definitions by name
	groups  map[string]hubspot.PropertyGroup // by name
	values  map[string]map[string]string     // record id -> property -> value
	deleted map[string]bool
	updates int // batch update calls answered 200 or 207
}

// sandboxCRM is the CRM state; it has its own lock so CRM calls do not
// wait on enrollments.
type sandboxCRM struct {
	mu    sync.Mutex
	types map[string]*crmType // by path segment
}

// defaultContactProperties are a few of HubSpot's own contact properties.
var defaultContactProperties = []hubspot.Property{
	{Name: "email", Label: "Email", Type: "string", FieldType: "text", GroupName: "contactinformation"},
	{Name: "firstname", Label: "First Name", Type: "string", FieldType: "text", GroupName: "contactinformation"},
	{Name: "lastname", Label: "Last Name", Type: "string", FieldType: "text", GroupName: "contactinformation"},
	{Name: "lifecyclestage", Label: "Lifecycle Stage", Type: "enumeration", FieldType: "radio", GroupName: "contactinformation"},
}

// defaultCompanyProperties are a few of HubSpot's own company properties.
var defaultCompanyProperties = []hubspot.Property{
	{Name: "name", Label: "Company name", Type: "string", FieldType: "text", GroupName: "companyinformation"},
	{Name: "domain", Label: "Company Domain Name", Type: "string", FieldType: "text", GroupName: "companyinformation"},
	{Name: "industry", Label: "Industry", Type: "enumeration", FieldType: "select", GroupName: "companyinformation"},
	{Name: "lifecyclestage", Label: "Lifecycle Stage", Type: "enumeration", FieldType: "radio", GroupName: "companyinformation"},
}

func newCRMType(name, typeID, noun string, group hubspot.PropertyGroup, props []hubspot.Property) *crmType {
	t := &crmType{name: name, typeID: typeID, noun: noun, props: map[string]hubspot.Property{},
		groups: map[string]hubspot.PropertyGroup{group.Name: group}, values: map[string]map[string]string{}, deleted: map[string]bool{}}
	for _, p := range props {
		t.props[p.Name] = p
	}
	return t
}

func newSandboxCRM() *sandboxCRM {
	return &sandboxCRM{types: map[string]*crmType{
		hubspot.ObjectContacts: newCRMType(hubspot.ObjectContacts, "0-1", "CONTACT",
			hubspot.PropertyGroup{Name: "contactinformation", Label: "Contact information"}, defaultContactProperties),
		hubspot.ObjectCompanies: newCRMType(hubspot.ObjectCompanies, "0-2", "COMPANY",
			hubspot.PropertyGroup{Name: "companyinformation", Label: "Company information"}, defaultCompanyProperties),
	}}
}

// registerCRM adds the CRM endpoints to the API and admin muxes.
func (s *Sandbox) registerCRM(api, adm *http.ServeMux) {
	s.crm = newSandboxCRM()
	s.registerActivity(api, adm)
	for _, ot := range []string{hubspot.ObjectContacts, hubspot.ObjectCompanies} {
		t := s.crm.types[ot]
		api.HandleFunc("POST /crm/v3/objects/"+ot+"/batch/update", func(w http.ResponseWriter, r *http.Request) { s.batchUpdate(w, r, t) })
		api.HandleFunc("GET /crm/v3/objects/"+ot+"/{id}", func(w http.ResponseWriter, r *http.Request) { s.getObject(w, r, t) })
		api.HandleFunc("GET /crm/v3/properties/"+ot+"/groups/{name}", func(w http.ResponseWriter, r *http.Request) { s.getGroup(w, r, t) })
		api.HandleFunc("POST /crm/v3/properties/"+ot+"/groups", func(w http.ResponseWriter, r *http.Request) { s.createGroup(w, r, t) })
		api.HandleFunc("GET /crm/v3/properties/"+ot+"/{name}", func(w http.ResponseWriter, r *http.Request) { s.getProperty(w, r, t) })
		api.HandleFunc("POST /crm/v3/properties/"+ot, func(w http.ResponseWriter, r *http.Request) { s.createProperty(w, r, t) })
		// Admin: a record's properties as HubSpot holds them; delete a record.
		adm.HandleFunc("GET /_sandbox/crm/"+ot+"/{id}", func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			props, ok := s.objectProperties(t, id)
			if !ok {
				adminError(w, http.StatusNotFound, fmt.Sprintf("%s %q does not exist or was deleted", strings.TrimSuffix(strings.ToLower(t.noun), "s"), id))
				return
			}
			writeJSON(w, http.StatusOK, hubspot.CRMObject{ID: id, Properties: props})
		})
	}
	adm.HandleFunc("GET /_sandbox/crm/stats", func(w http.ResponseWriter, r *http.Request) {
		s.crm.mu.Lock()
		defer s.crm.mu.Unlock()
		c, co := s.crm.types[hubspot.ObjectContacts], s.crm.types[hubspot.ObjectCompanies]
		writeJSON(w, http.StatusOK, map[string]int{"batch_updates": c.updates, "contacts_with_properties": len(c.values),
			"properties": len(c.props), "deleted_contacts": len(c.deleted),
			"company_batch_updates": co.updates, "companies_with_properties": len(co.values),
			"company_properties": len(co.props), "deleted_companies": len(co.deleted)})
	})
	adm.HandleFunc("DELETE /_sandbox/crm/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.DeleteContact(id)
		s.sendWebhooks(hubspot.WebhookEvent{SubscriptionType: "contact.deletion", ObjectID: objectID(id)})
		w.WriteHeader(http.StatusNoContent)
	})
	adm.HandleFunc("DELETE /_sandbox/crm/companies/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.DeleteCompany(r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	})
}

// ContactProperties are the property values the sandbox holds for a
// contact (without the defaults HubSpot computes); ok is false for a
// contact that does not exist or was deleted.
func (s *Sandbox) ContactProperties(id string) (map[string]string, bool) {
	return s.objectProperties(s.crm.types[hubspot.ObjectContacts], id)
}

// CompanyProperties are the property values the sandbox holds for a
// company, with its configured name and domain; ok is false for a
// company that does not exist or was deleted.
func (s *Sandbox) CompanyProperties(id string) (map[string]string, bool) {
	return s.objectProperties(s.crm.types[hubspot.ObjectCompanies], id)
}

func (s *Sandbox) objectProperties(t *crmType, id string) (map[string]string, bool) {
	if !s.exists(t, id) {
		return nil, false
	}
	out := map[string]string{}
	if t.name == hubspot.ObjectCompanies {
		for _, co := range s.cfg.Companies {
			if co.ID == id {
				out["name"], out["domain"] = co.Name, co.Domain
			}
		}
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	for k, v := range t.values[id] {
		out[k] = v
	}
	return out, true
}

// DeleteContact deletes a contact: later updates of it fail per record.
func (s *Sandbox) DeleteContact(id string) { s.deleteObject(hubspot.ObjectContacts, id) }

// DeleteCompany deletes a company: later updates of it fail per record.
func (s *Sandbox) DeleteCompany(id string) { s.deleteObject(hubspot.ObjectCompanies, id) }

func (s *Sandbox) deleteObject(ot, id string) {
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	t := s.crm.types[ot]
	t.deleted[id] = true
	delete(t.values, id)
}

// BatchUpdates is the number of contact batch update calls applied (200
// or 207).
func (s *Sandbox) BatchUpdates() int { return s.batchUpdates(hubspot.ObjectContacts) }

// CompanyBatchUpdates is the number of company batch update calls
// applied (200 or 207).
func (s *Sandbox) CompanyBatchUpdates() int { return s.batchUpdates(hubspot.ObjectCompanies) }

func (s *Sandbox) batchUpdates(ot string) int {
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	return s.crm.types[ot].updates
}

// exists: a configured record, or any plausible id under *_auto, not
// deleted.
func (s *Sandbox) exists(t *crmType, id string) bool {
	var ok bool
	if t.name == hubspot.ObjectContacts {
		s.mu.Lock()
		_, ok = s.contactEmail(id)
		s.mu.Unlock()
	} else {
		ok = s.cfg.CompaniesAuto && id != "" && !strings.ContainsAny(id, "/@ ")
		for _, co := range s.cfg.Companies {
			ok = ok || co.ID == id
		}
	}
	if !ok {
		return false
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	return !t.deleted[id]
}

func (s *Sandbox) contactExists(id string) bool {
	return s.exists(s.crm.types[hubspot.ObjectContacts], id)
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

// batchUpdate is POST /crm/v3/objects/{contacts|companies}/batch/update:
// at most 100 inputs; any unknown property (of that object type) or
// invalid value fails the whole call with 400 VALIDATION_ERROR, as
// HubSpot does; a record that does not exist (or was deleted) fails
// alone, in a 207 multi-status answer.
func (s *Sandbox) batchUpdate(w http.ResponseWriter, r *http.Request, t *crmType) {
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
			p, ok := t.props[name]
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
		if !s.exists(t, in.ID) {
			missing = append(missing, in.ID)
			continue
		}
		s.crm.mu.Lock()
		vals := t.values[in.ID]
		if vals == nil {
			vals = map[string]string{}
			t.values[in.ID] = vals
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
	t.updates++
	s.crm.mu.Unlock()
	status := http.StatusOK
	if len(missing) > 0 {
		status = http.StatusMultiStatus
		slices.Sort(missing)
		res.NumErrors = len(missing)
		res.Errors = []hubspot.BatchError{{Status: "error", Category: "OBJECT_NOT_FOUND",
			Message: "Could not get some " + t.noun + " objects, they may be deleted or not exist. Check that ids are valid.",
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

func (s *Sandbox) getProperty(w http.ResponseWriter, r *http.Request, t *crmType) {
	name := r.PathValue("name")
	s.crm.mu.Lock()
	p, ok := t.props[name]
	s.crm.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Unable to find property %s for object type %s", name, t.typeID))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

var propertyTypes = map[string]bool{"string": true, "number": true, "datetime": true, "date": true, "enumeration": true, "bool": true}

func (s *Sandbox) createProperty(w http.ResponseWriter, r *http.Request, t *crmType) {
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
	case t.groups[p.GroupName].Name == "":
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", fmt.Sprintf("group %s does not exist", p.GroupName))
	case t.props[p.Name].Name != "":
		writeError(w, r, http.StatusConflict, "OBJECT_ALREADY_EXISTS", "", fmt.Sprintf("A property named '%s' already exists.", p.Name))
	default:
		t.props[p.Name] = p
		writeJSON(w, http.StatusCreated, p)
	}
}

func (s *Sandbox) getGroup(w http.ResponseWriter, r *http.Request, t *crmType) {
	name := r.PathValue("name")
	s.crm.mu.Lock()
	g, ok := t.groups[name]
	s.crm.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", fmt.Sprintf("Unable to find property group %s for object type %s", name, t.typeID))
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Sandbox) createGroup(w http.ResponseWriter, r *http.Request, t *crmType) {
	var g hubspot.PropertyGroup
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14)).Decode(&g); err != nil || g.Name == "" || g.Label == "" {
		writeError(w, r, http.StatusBadRequest, "VALIDATION_ERROR", "", "name and label are required")
		return
	}
	s.crm.mu.Lock()
	defer s.crm.mu.Unlock()
	if _, ok := t.groups[g.Name]; ok {
		writeError(w, r, http.StatusConflict, "OBJECT_ALREADY_EXISTS", "", fmt.Sprintf("A property group named '%s' already exists.", g.Name))
		return
	}
	t.groups[g.Name] = g
	writeJSON(w, http.StatusCreated, g)
}

// getObject is GET /crm/v3/objects/{contacts|companies}/{id}?properties=a,b:
// the properties asked for (null when never set), 404 for a record that
// does not exist or was deleted; contacts also by idProperty=email.
func (s *Sandbox) getObject(w http.ResponseWriter, r *http.Request, t *crmType) {
	id := r.PathValue("id")
	if t.name == hubspot.ObjectContacts && r.URL.Query().Get("idProperty") == "email" {
		s.mu.Lock()
		vid, ok := s.contactByEmail(id)
		s.mu.Unlock()
		if !ok {
			writeError(w, r, http.StatusNotFound, "OBJECT_NOT_FOUND", "", "Object not found.  objectId are usually numeric.")
			return
		}
		id = vid
	}
	props, ok := s.objectProperties(t, id)
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
