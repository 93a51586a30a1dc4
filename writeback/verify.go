package writeback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/leadscores"
)

// ContactReader reads a contact's properties; *hubspot.Client.
type ContactReader interface {
	GetContact(ctx context.Context, id string, properties []string) (*hubspot.CRMObject, error)
}

// CompanyReader reads a company's properties; *hubspot.Client.
type CompanyReader interface {
	GetCompany(ctx context.Context, id string, properties []string) (*hubspot.CRMObject, error)
}

// Verify reads every contact of msgs (each contact's latest message) from
// HubSpot and reports each property that does not hold what the message
// asks for. A contact HubSpot does not have (deleted) is reported apart,
// as missing. Meant for min_delta 0, where every change is written.
func Verify(ctx context.Context, c *Config, crm ContactReader, msgs []leadscores.Message) (problems []string, missing []string, err error) {
	ids := make([]string, len(msgs))
	want := make([]map[string]string, len(msgs))
	for i := range msgs {
		ids[i], want[i] = msgs[i].ContactID, c.propertiesOf(&msgs[i])
	}
	return verify(ctx, "contact", crm.GetContact, ids, want)
}

// VerifyCompanies is Verify for companies: each company of msgs (its
// latest company-scores message) against its HubSpot company properties.
func VerifyCompanies(ctx context.Context, c *CompanyConfig, crm CompanyReader, msgs []companyscores.Message) (problems []string, missing []string, err error) {
	ids := make([]string, len(msgs))
	want := make([]map[string]string, len(msgs))
	for i := range msgs {
		ids[i], want[i] = msgs[i].CompanyID, c.companyPropertiesOf(&msgs[i])
	}
	return verify(ctx, "company", crm.GetCompany, ids, want)
}

func verify(ctx context.Context, noun string, get func(context.Context, string, []string) (*hubspot.CRMObject, error), ids []string, wants []map[string]string) (problems []string, missing []string, err error) {
	for i, id := range ids {
		want := wants[i]
		names := slices.Sorted(maps.Keys(want))
		got, err := get(ctx, id, names)
		if errors.Is(err, hubspot.ErrNotFound) {
			missing = append(missing, id)
			continue
		}
		if err != nil {
			return problems, missing, fmt.Errorf("%s %s: %w", noun, id, err)
		}
		for _, name := range names {
			if got.Properties[name] != want[name] {
				problems = append(problems, fmt.Sprintf("%s %s: %s is %q in HubSpot, the scores say %q", noun, id, name, got.Properties[name], want[name]))
			}
		}
	}
	return problems, missing, nil
}
