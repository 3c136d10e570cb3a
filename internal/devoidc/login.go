package devoidc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// pageCSS is the sign-in page's only style, inline and allowed by its hash.
const pageCSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#eef1f5}
main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{margin:0 0 .5rem;font-size:1.5rem}
.note{margin:0 0 1.5rem;color:#4a5260}
.field{margin-bottom:1rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
.check label{display:inline;font-weight:400;margin-left:.5rem}
input[type=email],input[type=text]{width:100%;padding:.5rem .6rem;font:inherit;color:inherit;border:1px solid #6b7280;border-radius:4px}
input[aria-invalid=true]{border-color:#b42318}
.hint{margin:.25rem 0 0;font-size:.875rem;color:#4a5260}
.check{margin:1.25rem 0 1.5rem}
input[type=checkbox]{width:1.1rem;height:1.1rem;vertical-align:-.15rem}
button{padding:.6rem 1.4rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:4px;cursor:pointer}
button:hover{background:#1e40af}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.error{margin:0 0 1rem;padding:.6rem .8rem;color:#8a1c12;background:#fdecea;border-left:4px solid #b42318}
a{color:#1d4ed8}
`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Conveyor (dev)</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>Sign in to Conveyor</h1>
{{- if .Expired}}
<p class="error" role="alert">{{.Error}}</p>
<p><a href="{{.ConsoleURL}}">Back to the console</a></p>
{{- else}}
<p class="note">Development sign-in: any email address signs in, nothing is checked.</p>
{{- if .Error}}
<p class="error" id="error" role="alert">{{.Error}}</p>
{{- end}}
<form method="post" action="{{.Action}}" novalidate>
<input type="hidden" name="id" value="{{.ID}}">
<div class="field">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required autofocus value="{{.Email}}"{{if .EmailInvalid}} aria-invalid="true" aria-describedby="error"{{end}}>
</div>
<div class="field">
<label for="name">Name</label>
<input id="name" name="name" type="text" autocomplete="name" maxlength="200" value="{{.Name}}" aria-describedby="{{if .NameInvalid}}error {{end}}name-hint"{{if .NameInvalid}} aria-invalid="true"{{end}}>
<p class="hint" id="name-hint">Shown in the console. Empty: the part of the email before the @.</p>
</div>
<div class="check">
<input id="admin" name="admin" type="checkbox" value="on"{{if .Admin}} checked{{end}}>
<label for="admin">Platform admin</label>
</div>
<button type="submit">Sign in</button>
</form>
{{- end}}
</main>
</body>
</html>
`))

// pageCSP is the sign-in page's Content-Security-Policy: nothing loads but
// its own (hashed) style, it cannot be framed, and its form may go to the
// issuer and, through the redirects that follow it, to the console.
func pageCSP(consoleOrigins []string) string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"form-action 'self' " + strings.Join(consoleOrigins, " ") + "; frame-ancestors 'none'; base-uri 'none'"
}

type pageData struct {
	CSS          template.CSS
	Action       string
	ConsoleURL   string
	ID           string
	Email, Name  string
	Admin        bool
	Error        string
	EmailInvalid bool
	NameInvalid  bool
	Expired      bool
}

const maxNameRunes = 200

// What the sign-in page says when it refuses the form.
const (
	msgNoEmail   = "Enter your email address."
	msgBadEmail  = "Enter an email address like ada@example.com."
	msgBadName   = "The name may have at most 200 characters and no control characters."
	msgExpired   = "This sign-in request is unknown or has expired. Go back to the console and sign in again."
	msgBadOrigin = "This form was sent from another site."
)

// parseEmail returns the trimmed address, or the message that refuses it.
func parseEmail(s string) (email, problem string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", msgNoEmail
	}
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", msgBadEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", msgBadEmail
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || domain == "" || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.ContainsAny(s, " \"\\") {
		return "", msgBadEmail
	}
	return s, ""
}

// parseName returns the trimmed name (the email's local part when empty),
// or the message that refuses it.
func parseName(s, email string) (name, problem string) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameRunes || strings.ContainsFunc(s, unicode.IsControl) {
		return "", msgBadName
	}
	if s == "" {
		s, _, _ = strings.Cut(email, "@")
	}
	return s, ""
}

// login serves the sign-in page (GET) and takes its form (POST).
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		id := r.URL.Query().Get("id")
		a, ok := p.storage.request(id)
		if !ok || a.User != nil {
			p.page(w, http.StatusBadRequest, pageData{Expired: true, Error: msgExpired})
			return
		}
		p.page(w, http.StatusOK, pageData{ID: id, Email: strings.TrimSpace(a.LoginHint)})
	case http.MethodPost:
		p.signIn(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) signIn(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != p.origin {
		p.page(w, http.StatusForbidden, pageData{Expired: true, Error: msgBadOrigin})
		return
	}
	if err := r.ParseForm(); err != nil {
		p.page(w, http.StatusBadRequest, pageData{Expired: true, Error: msgExpired})
		return
	}
	id := r.PostForm.Get("id")
	d := pageData{ID: id, Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name"), Admin: r.PostForm.Get("admin") != ""}
	if a, ok := p.storage.request(id); !ok || a.User != nil {
		p.page(w, http.StatusBadRequest, pageData{Expired: true, Error: msgExpired})
		return
	}
	email, problem := parseEmail(d.Email)
	if problem != "" {
		d.Error, d.EmailInvalid = problem, true
		p.page(w, http.StatusBadRequest, d)
		return
	}
	name, problem := parseName(d.Name, email)
	if problem != "" {
		d.Error, d.NameInvalid = problem, true
		p.page(w, http.StatusBadRequest, d)
		return
	}
	if !p.storage.completeLogin(id, user{Subject: subjectFor(email), Email: email, Name: name, Admin: d.Admin}) {
		p.page(w, http.StatusBadRequest, pageData{Expired: true, Error: msgExpired})
		return
	}
	http.Redirect(w, r, p.callback(op.ContextWithIssuer(r.Context(), p.issuer), id), http.StatusSeeOther)
}

func (p *Provider) page(w http.ResponseWriter, status int, d pageData) {
	d.CSS = template.CSS(pageCSS)
	d.Action = p.prefix + loginPath
	d.ConsoleURL = p.publicURL + "/"
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, d); err != nil {
		http.Error(w, "the sign-in page failed to render", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // no-referrer would make Chromium send "Origin: null" with the form
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
