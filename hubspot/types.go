package hubspot

import "time"

// Step action types as HubSpot names them.
const (
	ActionEmail             = "EMAIL"
	ActionTask              = "TASK"
	ActionFinishEnrollment  = "FINISH_ENROLLMENT"
	ActionAdaptiveContainer = "ADAPTIVE_CONTAINER"
)

// SequenceLite is one entry of the sequence list.
type SequenceLite struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	UserID    string    `json:"userId"`
	FolderID  string    `json:"folderId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SequencePage is the answer of GET /automation/v4/sequences.
type SequencePage struct {
	Results []SequenceLite `json:"results"`
	Total   int            `json:"total"`
	Paging  *Paging        `json:"paging,omitempty"`
}

// Paging carries the cursor of the next page, if any.
type Paging struct {
	Next *NextPage `json:"next,omitempty"`
}

// NextPage is HubSpot's paging cursor.
type NextPage struct {
	After string `json:"after"`
	Link  string `json:"link,omitempty"`
}

// ListSequencesParams are the query parameters of the list call. UserID is
// required by HubSpot.
type ListSequencesParams struct {
	UserID string
	Limit  int
	After  string
	Name   string
}

// Sequence is the answer of GET /automation/v4/sequences/{id}.
type Sequence struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	UserID       string            `json:"userId"`
	FolderID     string            `json:"folderId,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	Steps        []Step            `json:"steps"`
	Dependencies []map[string]any  `json:"dependencies"`
	Settings     *SequenceSettings `json:"settings,omitempty"`
}

// Step is one step of a sequence. DelayMillis is the wait after the previous
// step (after enrollment for the first step).
type Step struct {
	ID           string        `json:"id"`
	StepOrder    int           `json:"stepOrder"`
	DelayMillis  int64         `json:"delayMillis"`
	ActionType   string        `json:"actionType"`
	CreatedAt    time.Time     `json:"createdAt"`
	UpdatedAt    time.Time     `json:"updatedAt"`
	EmailPattern *EmailPattern `json:"emailPattern,omitempty"`
	TaskPattern  *TaskPattern  `json:"taskPattern,omitempty"`
}

// EmailPattern describes an automated email step.
type EmailPattern struct {
	ID                     string    `json:"id"`
	TemplateID             string    `json:"templateId"`
	ThreadEmailToStepOrder *int      `json:"threadEmailToStepOrder,omitempty"`
	CreatedAt              time.Time `json:"createdAt"`
	UpdatedAt              time.Time `json:"updatedAt"`
}

// TaskPattern describes a task step (call, manual email, LinkedIn, to-do).
type TaskPattern struct {
	ID           string    `json:"id"`
	TaskType     string    `json:"taskType"`
	TaskPriority string    `json:"taskPriority"`
	Subject      string    `json:"subject,omitempty"`
	Notes        string    `json:"notes,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// SequenceSettings are a sequence's sending settings.
type SequenceSettings struct {
	ID                             string    `json:"id"`
	EligibleFollowUpDays           string    `json:"eligibleFollowUpDays"`
	SendWindowStartMinute          int       `json:"sendWindowStartMinute"`
	SendWindowEndMinute            int       `json:"sendWindowEndMinute"`
	SellingStrategy                string    `json:"sellingStrategy"`
	TaskReminderMinute             int       `json:"taskReminderMinute"`
	IndividualTaskRemindersEnabled bool      `json:"individualTaskRemindersEnabled"`
	CreatedAt                      time.Time `json:"createdAt"`
	UpdatedAt                      time.Time `json:"updatedAt"`
}

// EnrollRequest is the body of POST /automation/v4/sequences/enrollments;
// UserID travels in the query string.
type EnrollRequest struct {
	UserID             string `json:"-"`
	ContactID          string `json:"contactId"`
	SequenceID         string `json:"sequenceId"`
	SenderEmail        string `json:"senderEmail"`
	SenderAliasAddress string `json:"senderAliasAddress,omitempty"`
}

// Enrollment is the answer of a successful enroll.
type Enrollment struct {
	ID         string    `json:"id"`
	ToEmail    string    `json:"toEmail"`
	EnrolledAt time.Time `json:"enrolledAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// ContactEnrollment is the answer of GET
// /automation/v4/sequences/enrollments/contact/{contactId}.
type ContactEnrollment struct {
	ID              string    `json:"id"`
	SequenceID      string    `json:"sequenceId"`
	SequenceName    string    `json:"sequenceName"`
	EnrolledBy      string    `json:"enrolledBy"`
	EnrolledByEmail string    `json:"enrolledByEmail"`
	ToEmail         string    `json:"toEmail"`
	EnrolledAt      time.Time `json:"enrolledAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// WorkflowEnrollment is one element of GET
// /automation/v2/workflows/enrollments/contacts/{vid}: a workflow the contact
// is currently enrolled in.
type WorkflowEnrollment struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Enabled    bool   `json:"enabled"`
	PortalID   int64  `json:"portalId"`
	InsertedAt int64  `json:"insertedAt"`
	UpdatedAt  int64  `json:"updatedAt"`
}

// ErrorBody is HubSpot's error document (the client decodes it, the sandbox
// answers with it).
type ErrorBody struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory,omitempty"`
	PolicyName    string              `json:"policyName,omitempty"`
	Errors        []ErrorDetail       `json:"errors,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Links         map[string]string   `json:"links,omitempty"`
}

// ErrorDetail is one entry of an error's `errors` list.
type ErrorDetail struct {
	Message     string              `json:"message"`
	Code        string              `json:"code,omitempty"`
	In          string              `json:"in,omitempty"`
	SubCategory string              `json:"subCategory,omitempty"`
	Context     map[string][]string `json:"context,omitempty"`
}

// EmailEvent is an event of HubSpot's email events API.
type EmailEvent struct {
	ID              string  `json:"id"`
	Created         int64   `json:"created"` // ms since the epoch
	Type            string  `json:"type"`    // SENT, DELIVERED, OPEN, CLICK, BOUNCE, STATUSCHANGE, ...
	Recipient       string  `json:"recipient"`
	PortalID        int64   `json:"portalId"`
	AppID           int64   `json:"appId"`
	AppName         string  `json:"appName"`
	EmailCampaignID int64   `json:"emailCampaignId"`
	SentBy          *SentBy `json:"sentBy,omitempty"`
	URL             string  `json:"url,omitempty"`      // CLICK
	Status          string  `json:"status,omitempty"`   // STATUSCHANGE: UNSUBSCRIBED, ...
	Category        string  `json:"category,omitempty"` // BOUNCE: HARD_BOUNCE, ...
}

// SentBy names the SENT event an event follows.
type SentBy struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
}

// EmailEventsPage is one page of GET /email/public/v1/events.
type EmailEventsPage struct {
	Events  []EmailEvent `json:"events"`
	HasMore bool         `json:"hasMore"`
	Offset  string       `json:"offset"`
}

// WebhookEvent is one item of a HubSpot webhook delivery (a JSON array).
type WebhookEvent struct {
	EventID          int64  `json:"eventId"`
	SubscriptionID   int64  `json:"subscriptionId"`
	PortalID         int64  `json:"portalId"`
	AppID            int64  `json:"appId"`
	OccurredAt       int64  `json:"occurredAt"` // ms
	SubscriptionType string `json:"subscriptionType"`
	AttemptNumber    int    `json:"attemptNumber"`
	ObjectID         any    `json:"objectId"` // a number for HubSpot's numeric ids
	PropertyName     string `json:"propertyName,omitempty"`
	PropertyValue    string `json:"propertyValue,omitempty"`
	ChangeSource     string `json:"changeSource,omitempty"`
}
