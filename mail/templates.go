package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"

	"github.com/seatbridge/seatbridge/provisioning"
)

// Templates renders the outbox's mails. Links are built from BaseURL, Seatbridge's
// public URL.
type Templates struct {
	BaseURL string
	text    map[provisioning.MailKind]*texttemplate.Template
	html    map[provisioning.MailKind]*htmltemplate.Template
	subject map[provisioning.MailKind]*texttemplate.Template
}

// view is what the templates see.
type view struct {
	provisioning.MailData
	Link    string
	Expires string
}

var sources = map[provisioning.MailKind]struct{ subject, text, html string }{
	provisioning.MailInvitation: {
		subject: `You are invited to {{.TenantName}}`,
		text: `Hello{{with .DisplayName}} {{.}}{{end}},

{{with .InvitedBy}}{{.}} has invited you{{else}}You have been invited{{end}} to join {{.TenantName}}{{with .Roles}} as {{join . ", "}}{{end}}.

Accept the invitation and set up your account:
{{.Link}}

This link works once and expires on {{.Expires}}. If you did not expect this invitation, ignore this e-mail.
`,
		html: `<!doctype html><html><body style="font-family:sans-serif">
<p>Hello{{with .DisplayName}} {{.}}{{end}},</p>
<p>{{with .InvitedBy}}{{.}} has invited you{{else}}You have been invited{{end}} to join <strong>{{.TenantName}}</strong>{{with .Roles}} as {{join . ", "}}{{end}}.</p>
<p><a href="{{.Link}}">Accept the invitation</a></p>
<p>This link works once and expires on {{.Expires}}. If you did not expect this invitation, ignore this e-mail.</p>
</body></html>`,
	},
	provisioning.MailCredentials: {
		subject: `Your {{.TenantName}} account`,
		text: `Hello{{with .DisplayName}} {{.}}{{end}},

An account was created for you in {{.TenantName}}.

Sign in at: {{.Link}}
E-mail:     {{.Email}}
Password:   {{.Password}}
{{if .MustChange}}
You will be asked to choose a new password when you first sign in.
{{end}}`,
		html: `<!doctype html><html><body style="font-family:sans-serif">
<p>Hello{{with .DisplayName}} {{.}}{{end}},</p>
<p>An account was created for you in <strong>{{.TenantName}}</strong>.</p>
<table><tr><td>Sign in at</td><td><a href="{{.Link}}">{{.Link}}</a></td></tr>
<tr><td>E-mail</td><td>{{.Email}}</td></tr>
<tr><td>Password</td><td><code>{{.Password}}</code></td></tr></table>
{{if .MustChange}}<p>You will be asked to choose a new password when you first sign in.</p>{{end}}
</body></html>`,
	},
}

// NewTemplates parses the built-in templates.
func NewTemplates(baseURL string) (*Templates, error) {
	t := &Templates{BaseURL: strings.TrimSuffix(baseURL, "/"), text: map[provisioning.MailKind]*texttemplate.Template{},
		html: map[provisioning.MailKind]*htmltemplate.Template{}, subject: map[provisioning.MailKind]*texttemplate.Template{}}
	funcs := map[string]any{"join": strings.Join}
	for kind, src := range sources {
		var err error
		if t.subject[kind], err = texttemplate.New(string(kind)).Funcs(funcs).Parse(src.subject); err != nil {
			return nil, fmt.Errorf("mail template %s subject: %w", kind, err)
		}
		if t.text[kind], err = texttemplate.New(string(kind)).Funcs(funcs).Parse(src.text); err != nil {
			return nil, fmt.Errorf("mail template %s text: %w", kind, err)
		}
		if t.html[kind], err = htmltemplate.New(string(kind)).Funcs(funcs).Parse(src.html); err != nil {
			return nil, fmt.Errorf("mail template %s html: %w", kind, err)
		}
	}
	return t, nil
}

// InvitationLink is the accept URL of an invitation token.
func (t *Templates) InvitationLink(token string) string {
	return t.BaseURL + "/invite/" + url.PathEscape(token)
}

// LoginLink is the password sign-in page of a tenant.
func (t *Templates) LoginLink(slug string) string {
	return t.BaseURL + "/login/" + url.PathEscape(slug)
}

// Render turns a claimed outbox mail into a message.
func (t *Templates) Render(m provisioning.Mail) (Message, error) {
	st, ok := t.subject[m.Kind]
	if !ok {
		return Message{}, fmt.Errorf("no mail template %q", m.Kind)
	}
	v := view{MailData: m.Data}
	switch m.Kind {
	case provisioning.MailInvitation:
		v.Link = t.InvitationLink(m.Data.Token)
	default:
		v.Link = t.LoginLink(m.Data.TenantSlug)
	}
	if !m.Data.ExpiresAt.IsZero() {
		v.Expires = m.Data.ExpiresAt.UTC().Format("2 January 2006 15:04 MST")
	}
	var subj, text, html bytes.Buffer
	if err := st.Execute(&subj, v); err != nil {
		return Message{}, fmt.Errorf("render %s subject: %w", m.Kind, err)
	}
	if err := t.text[m.Kind].Execute(&text, v); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", m.Kind, err)
	}
	if err := t.html[m.Kind].Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", m.Kind, err)
	}
	// A subject is one header line: no newline may come from tenant-controlled names.
	subject := strings.Join(strings.Fields(subj.String()), " ")
	return Message{To: m.To, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
