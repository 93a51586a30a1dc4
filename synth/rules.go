package synth

import (
	"fmt"
	"strings"
)

// ruleTypes are the event types of a mature portal; the generated stream
// uses the first ten, so many groups wait for events that rarely come, as
// in real rule sets.
var ruleTypes = []string{
	"email_opened", "page_viewed", "email_clicked", "cta_clicked", "form_submitted",
	"webinar_attended", "call_started", "email_replied", "meeting_booked", "unsubscribed",
	"email_bounced", "email_delivered", "webinar_registered", "ad_clicked", "social_clicked",
	"chat_started", "document_viewed", "video_watched", "trial_started", "trial_converted",
	"product_login", "feature_used", "invoice_paid", "support_ticket", "survey_answered",
}

// Rules writes a model of n filter groups in the shapes HubSpot users
// write: a type alone, a type with a campaign, a channel, a page path or a
// lifecycle stage, a few contact-only groups, windows and caps.
func Rules(n int) string {
	campaigns := []string{"q4-launch", "webinar-series", "retargeting", "newsletter", "partner-referral"}
	var b strings.Builder
	b.WriteString("model: bench\nthreshold: 60\nrearm_below: 40\nmax_score: 200\nmin_score: -50\ngroups:\n")
	for i := 0; i < n; i++ {
		t := ruleTypes[i%len(ruleTypes)]
		var when string
		switch v := (i / len(ruleTypes)) % 5; {
		case i%50 == 49:
			when = fmt.Sprintf(`contact.email endsWith "@company%d.com"`, i)
		case v == 0:
			when = fmt.Sprintf(`event.type == %q`, t)
		case v == 1:
			when = fmt.Sprintf(`event.type == %q && event.properties.campaign == %q`, t, campaigns[i%len(campaigns)])
		case v == 2:
			when = fmt.Sprintf(`event.type == %q && event.properties.channel in ["email", "organic", "paid_search"]`, t)
		case v == 3:
			when = fmt.Sprintf(`event.type == %q && contact.lifecycle_stage == "lead"`, t)
		default:
			when = fmt.Sprintf(`event.type in [%q, "survey_answered"] && event.properties.path startsWith "/pricing"`, t)
		}
		fmt.Fprintf(&b, "  - name: g%d\n    when: '%s'\n    points: %d\n    max: %d\n", i, when, 1+i%15, 30+i%20)
		if i%3 == 0 {
			b.WriteString("    window: 30d\n")
		}
	}
	return b.String()
}
