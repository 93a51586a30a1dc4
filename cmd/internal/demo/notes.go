package demo

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/scorebridge/scorebridge/enrollment"
)

// Note explains the outcomes that start with Prefix.
type Note struct {
	Prefix, Text string
}

// Notes explains the decision outcomes in the terms of the bridge's
// configuration: its business hours, sender caps, suppressions and
// conflicts, as the bridge that decided had them.
func Notes(cfg *enrollment.Config) []Note {
	var ns []Note
	if h := cfg.BusinessHours; h != nil {
		when := h.Start + "-" + h.End
		if h.WeekdaysOnly {
			when += " or on a weekend"
		}
		ns = append(ns, Note{"held:business_hours", fmt.Sprintf("held:business_hours: the contact's local time is outside %s; released at the next opening", when)})
	}
	var enrollments, sends []int
	for _, s := range cfg.Senders {
		enrollments, sends = append(enrollments, s.DailyEnrollments), append(sends, s.DailySends)
	}
	if len(cfg.Senders) > 0 {
		ns = append(ns, Note{"held:quota", fmt.Sprintf("held:quota: the owner's %s enrollments (or %s inbox sends) of the last 24 h are used; released highest score first",
			span(enrollments), span(sends))})
	}
	ns = append(ns, Note{"already_enrolled", "already_enrolled: the contact is in a sequence already; never stacked"})
	if len(cfg.Conflicts) > 0 {
		pairs := make([]string, len(cfg.Conflicts))
		for i, c := range cfg.Conflicts {
			pairs[i] = "sequence " + c.SequenceID + " and workflow " + c.WorkflowID
		}
		ns = append(ns, Note{"excluded:conflicting_sequence", "excluded:conflicting_sequence: no workflow for a contact in a sequence of the same theme (" + strings.Join(pairs, "; ") + ")"})
	}
	if cfg.CompanyExclusive {
		ns = append(ns, Note{"excluded:company_active", "excluded:company_active: another contact of the company is in a sequence"})
	}
	if s := suppressed(cfg.Suppress); s != "" {
		ns = append(ns, Note{"suppressed", "suppressed: " + s + " are never enrolled"})
	}
	ns = append(ns, Note{"no_route", fmt.Sprintf("no_route: none of the %d routes matches the crossing's model, threshold and contact", len(cfg.Routes))})
	return ns
}

func suppressed(s enrollment.SuppressConfig) string {
	var parts []string
	if len(s.LifecycleStages) > 0 {
		parts = append(parts, "lifecycle stages "+strings.Join(s.LifecycleStages, ", "))
	}
	if len(s.EmailDomains) > 0 {
		parts = append(parts, "email domains "+strings.Join(s.EmailDomains, ", "))
	}
	if s.ContactIDsFile != "" {
		parts = append(parts, "the contacts listed in "+s.ContactIDsFile)
	}
	if len(s.CompanyIDs) > 0 || s.CompanyIDsFile != "" {
		parts = append(parts, "the listed companies")
	}
	return strings.Join(parts, ", ")
}

// span is "80" when every value is 80, else "min-max".
func span(vs []int) string {
	lo, hi := slices.Min(vs), slices.Max(vs)
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// WriteNotes prints the notes of the outcomes seen, in the notes' order.
func WriteNotes(w io.Writer, notes []Note, outcomes []string) {
	for _, n := range notes {
		for _, o := range outcomes {
			if strings.HasPrefix(o, n.Prefix) {
				fmt.Fprintln(w, "  "+n.Text)
				break
			}
		}
	}
}
