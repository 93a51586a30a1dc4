package enrollment

import (
	"context"
	"strings"
)

// SuppressStage never lets through customers, partners, competitors and the
// listed contacts and companies: the practitioner's suppression list.
type SuppressStage struct{ Config *Config }

// Name implements Stage.
func (SuppressStage) Name() string { return "suppress" }

// Exec implements Stage.
func (s SuppressStage) Exec(_ context.Context, a *Attempt) (*Decision, error) {
	sp := &s.Config.Suppress
	c := a.Crossing
	if st := strings.ToLower(contactString(c.Contact, "lifecycle_stage")); st != "" && sp.lifecycle[st] {
		return decide(a, KindSuppressed, ReasonLifecycleStage, st), nil
	}
	if dom, ok := suppressedDomain(strings.ToLower(a.Email()), sp.domains); ok {
		return decide(a, KindSuppressed, ReasonEmailDomain, dom), nil
	}
	if sp.contacts[c.ContactID] {
		return decide(a, KindSuppressed, ReasonContactList, ""), nil
	}
	if c.CompanyID != "" && sp.companies[c.CompanyID] {
		return decide(a, KindSuppressed, ReasonCompanyList, c.CompanyID), nil
	}
	return nil, nil
}

// suppressedDomain matches the email's domain and its parent domains, so
// competitor.com also covers mail.competitor.com.
func suppressedDomain(email string, domains map[string]bool) (string, bool) {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || len(domains) == 0 {
		return "", false
	}
	dom := email[at+1:]
	for dom != "" {
		if domains[dom] {
			return dom, true
		}
		dot := strings.IndexByte(dom, '.')
		if dot < 0 {
			break
		}
		dom = dom[dot+1:]
	}
	return "", false
}
