package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.New("").ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").ParseFS(templateFS, "templates/*.html.tmpl"))
)

// Invitation is told to someone added to a team by an email address that
// has not signed in yet.
type Invitation struct {
	To        string
	TeamName  string
	Role      string // "member", "manager", ...
	InvitedBy string // the adder's name or email
	// SignInURL is where to sign in (the console).
	SignInURL string
}

// JobFailed is told to the job's creator.
type JobFailed struct {
	To       string
	TeamName string
	JobID    string
	Kind     string // the processor, e.g. "thumbnail"
	FileName string
	Error    string // the job's public error message
	FailedAt time.Time
	// JobURL shows the job (the console).
	JobURL string
	// SettingsURL is where the recipient turns these emails off.
	SettingsURL string
}

// EndpointDisabled is told to a team's managers when a webhook endpoint was
// disabled after failing for too long (or answering 410).
type EndpointDisabled struct {
	To          []string
	TeamName    string
	EndpointID  string
	EndpointURL string
	Reason      string // e.g. "every delivery failed for 5 days"
	DisabledAt  time.Time
	// WebhooksURL is where managers re-enable it (the console).
	WebhooksURL string
}

// Message renders the invitation.
func (v Invitation) Message() (Message, error) {
	return render([]string{v.To}, "You were added to "+v.TeamName+" on Conveyor", "invitation", v)
}

// Message renders the job failure notice.
func (v JobFailed) Message() (Message, error) {
	return render([]string{v.To}, fmt.Sprintf("Job %s failed in %s", v.Kind, v.TeamName), "job_failed", v)
}

// Message renders the endpoint-disabled notice.
func (v EndpointDisabled) Message() (Message, error) {
	return render(v.To, "Webhook endpoint disabled in "+v.TeamName, "endpoint_disabled", v)
}

func render(to []string, subject, name string, data any) (Message, error) {
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", name, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", name, err)
	}
	return Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
