package writeback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

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

// Check is what Verify found of the records (contacts or companies) it
// read from HubSpot.
type Check struct {
	Noun    string // "contact" or "company"
	Checked int    // records asked about
	// Problems has a line per property HubSpot holds otherwise than the
	// scores say, e.g. `contact 5001: scorebridge_score is "3" in HubSpot,
	// the scores say "4"`.
	Problems []string
	Differ   int      // records with a line in Problems
	Missing  []string // records HubSpot does not have (deleted)
}

// String sums the check up: "N contacts checked: D with properties that
// differ, M missing in HubSpot (ids)".
func (c Check) String() string {
	plural := c.Noun + "s"
	if c.Noun == "company" {
		plural = "companies"
	}
	return fmt.Sprintf("%d %s checked: %d with properties that differ, %d missing in HubSpot (%s)",
		c.Checked, plural, c.Differ, len(c.Missing), strings.Join(c.Missing, ", "))
}

// Verify reads every contact of msgs (each contact's latest message) from
// HubSpot and reports each property that does not hold what the message
// asks for. A contact HubSpot does not have (deleted) is reported apart,
// as missing. Meant for min_delta 0, where every change is written. On an
// error the check holds what was found before it.
func Verify(ctx context.Context, c *Config, crm ContactReader, msgs []leadscores.Message) (Check, error) {
	ids := make([]string, len(msgs))
	want := make([]map[string]string, len(msgs))
	for i := range msgs {
		ids[i], want[i] = msgs[i].ContactID, c.propertiesOf(&msgs[i])
	}
	return verify(ctx, "contact", crm.GetContact, ids, want)
}

// VerifyCompanies is Verify for companies: each company of msgs (its
// latest company-scores message) against its HubSpot company properties.
func VerifyCompanies(ctx context.Context, c *CompanyConfig, crm CompanyReader, msgs []companyscores.Message) (Check, error) {
	ids := make([]string, len(msgs))
	want := make([]map[string]string, len(msgs))
	for i := range msgs {
		ids[i], want[i] = msgs[i].CompanyID, c.companyPropertiesOf(&msgs[i])
	}
	return verify(ctx, "company", crm.GetCompany, ids, want)
}

func verify(ctx context.Context, noun string, get func(context.Context, string, []string) (*hubspot.CRMObject, error), ids []string, wants []map[string]string) (Check, error) {
	ch := Check{Noun: noun, Checked: len(ids)}
	for i, id := range ids {
		want := wants[i]
		names := slices.Sorted(maps.Keys(want))
		got, err := get(ctx, id, names)
		if errors.Is(err, hubspot.ErrNotFound) {
			ch.Missing = append(ch.Missing, id)
			continue
		}
		if err != nil {
			return ch, fmt.Errorf("%s %s: %w", noun, id, err)
		}
		differs := false
		for _, name := range names {
			if got.Properties[name] != want[name] {
				ch.Problems = append(ch.Problems, fmt.Sprintf("%s %s: %s is %q in HubSpot, the scores say %q", noun, id, name, got.Properties[name], want[name]))
				differs = true
			}
		}
		if differs {
			ch.Differ++
		}
	}
	return ch, nil
}
