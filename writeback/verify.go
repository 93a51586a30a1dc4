package writeback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/leadscores"
)

// ContactReader reads a contact's properties; *hubspot.Client.
type ContactReader interface {
	GetContact(ctx context.Context, id string, properties []string) (*hubspot.CRMObject, error)
}

// Verify reads every contact of msgs (each contact's latest message) from
// HubSpot and reports each property that does not hold what the message
// asks for. A contact HubSpot does not have (deleted) is reported apart,
// as missing. Meant for min_delta 0, where every change is written.
func Verify(ctx context.Context, c *Config, crm ContactReader, msgs []leadscores.Message) (problems []string, missing []string, err error) {
	for _, m := range msgs {
		want := c.propertiesOf(&m)
		names := slices.Sorted(maps.Keys(want))
		got, err := crm.GetContact(ctx, m.ContactID, names)
		if errors.Is(err, hubspot.ErrNotFound) {
			missing = append(missing, m.ContactID)
			continue
		}
		if err != nil {
			return problems, missing, fmt.Errorf("contact %s: %w", m.ContactID, err)
		}
		for _, name := range names {
			if got.Properties[name] != want[name] {
				problems = append(problems, fmt.Sprintf("contact %s: %s is %q in HubSpot, the scores say %q", m.ContactID, name, got.Properties[name], want[name]))
			}
		}
	}
	return problems, missing, nil
}
