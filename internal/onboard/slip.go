package onboard

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/safetext"
)

// Slip is the onboarding slip: everything a user needs to sign in with the
// pass and register a security key.
type Slip struct {
	UPN         string
	DisplayName string
	Code        []byte
	Start       time.Time
	Expiry      time.Time
	Once        bool
	URL         string
	Issued      time.Time
	// Location is the time zone the times are shown in (default Local).
	Location *time.Location
	// Backup: the user's security key is already registered (the pass came
	// with a bench enrollment): the slip keeps the pass as a way in should
	// the key fail, and does not ask to register the key again.
	Backup bool
}

// NewSlip builds the slip for an issued pass. It shares the code buffer:
// wipe the pass when done.
func NewSlip(is *Issued, now time.Time) *Slip {
	start := is.Pass.Start
	if start.IsZero() {
		start = is.Pass.Created
	}
	if start.IsZero() {
		start = now
	}
	name := is.User.DisplayName
	if name == "" {
		name = is.User.UPN
	}
	// Directory values reach the slip (text and HTML) with terminal
	// controls and bidi overrides escaped (internal/safetext).
	return &Slip{UPN: safetext.Line(is.User.UPN), DisplayName: safetext.Line(name), Code: is.Pass.Code, Start: start, Expiry: is.Pass.Expiry(),
		Once: is.Pass.Once, URL: RegistrationURL, Issued: now}
}

func (s *Slip) loc() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.Local
}

func (s *Slip) when(t time.Time) string {
	return t.In(s.loc()).Format("Mon 2 Jan 2006 15:04 MST")
}

// Steps are the short instructions on the slip. A private browser window
// keeps another account's session out of the way; a new pass can take a
// few minutes to reach Entra everywhere, so a sign-in that does not ask for
// it is tried again a little later
// (https://learn.microsoft.com/en-us/entra/identity/authentication/howto-authentication-temporary-access-pass).
func (s *Slip) Steps() []string {
	open := "Open " + s.URL + " in a private browser window (InPrivate or Incognito), so that no other account is signed in."
	signIn := "Sign in with your user name " + s.UPN + "."
	enter := "When asked, enter the Temporary Access Pass above (no password needed)."
	wait := "If you are not asked for the pass, close the window, wait a few minutes and try again: a new pass takes a few minutes to reach every sign-in server."
	if s.Backup {
		return []string{
			"Your security key is already registered: sign in with it (USB or NFC) and its PIN. Keep this pass as a backup for as long as it is valid.",
			"Only if the key does not work: " + strings.ToLower(open[:1]) + open[1:],
			signIn,
			enter,
			wait,
			"Do not register the key again: it is registered already. Tell the helpdesk that the key did not work.",
		}
	}
	steps := []string{
		open,
		signIn,
		enter,
		wait,
		"Choose \"Add sign-in method\", then \"Security key\" (USB or NFC, whichever your key is).",
		"Insert your security key (USB) or hold it to the reader (NFC); set a PIN when asked (or enter the PIN you were given) and touch the key.",
		"Give the key a name you will recognise, then sign out and back in with the key.",
	}
	if s.Once {
		steps = append(steps, fmt.Sprintf("The pass works once: after signing in you have %d minutes to register the key, so have it ready before you start.",
			int(OneTimeRegistrationWindow/time.Minute)))
	}
	return steps
}

func (s *Slip) keep() string {
	if s.Backup {
		return "Keep this slip private and destroy it once the pass has expired."
	}
	return "Keep this slip private and destroy it once your key works."
}

func (s *Slip) title() string {
	if s.Backup {
		return "Backup sign-in: your Temporary Access Pass"
	}
	return "Security key setup: your Temporary Access Pass"
}

func (s *Slip) useText() string {
	if s.Once {
		return "one sign-in (one-time pass)"
	}
	return "several sign-ins until it expires"
}

// Text renders the slip as plain text.
func (s *Slip) Text() []byte {
	var b bytes.Buffer
	rule := strings.Repeat("=", 64)
	fmt.Fprintf(&b, "%s\n%s\n%s\n\n", rule, s.title(), rule)
	fmt.Fprintf(&b, "  Name          %s\n", oneLine(s.DisplayName))
	fmt.Fprintf(&b, "  User name     %s\n", oneLine(s.UPN))
	fmt.Fprintf(&b, "  Access pass   %s\n", s.Code)
	fmt.Fprintf(&b, "  Valid from    %s\n", s.when(s.Start))
	fmt.Fprintf(&b, "  Valid until   %s\n", s.when(s.Expiry))
	fmt.Fprintf(&b, "  Good for      %s\n", s.useText())
	fmt.Fprintf(&b, "  Where         %s\n\n", s.URL)
	for i, st := range s.Steps() {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, st)
	}
	fmt.Fprintf(&b, "\n%s Issued %s.\n", s.keep(), s.when(s.Issued))
	return b.Bytes()
}

var slipHTML = template.Must(template.New("slip").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Temporary Access Pass for {{.UPN}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40em; margin: 2em auto; color: #111; }
h1 { font-size: 1.4em; border-bottom: 2px solid #111; padding-bottom: .3em; }
table { border-collapse: collapse; margin: 1em 0; }
th { text-align: left; padding: .3em 1.2em .3em 0; font-weight: normal; color: #444; }
td { padding: .3em 0; }
.pass { font-family: ui-monospace, monospace; font-size: 1.6em; letter-spacing: .12em; border: 1px solid #111; padding: .2em .5em; }
ol li { margin: .4em 0; }
.note { font-size: .9em; color: #444; border-top: 1px solid #aaa; padding-top: .6em; }
@media print { body { margin: 0; } }
</style></head>
<body>
<h1>{{.Title}}</h1>
<table>
<tr><th>Name</th><td>{{.DisplayName}}</td></tr>
<tr><th>User name</th><td>{{.UPN}}</td></tr>
<tr><th>Access pass</th><td><span class="pass">{{.Code}}</span></td></tr>
<tr><th>Valid from</th><td>{{.From}}</td></tr>
<tr><th>Valid until</th><td>{{.Until}}</td></tr>
<tr><th>Good for</th><td>{{.Use}}</td></tr>
<tr><th>Where</th><td><a href="{{.URL}}">{{.URL}}</a></td></tr>
</table>
<ol>{{range .Steps}}
<li>{{.}}</li>{{end}}
</ol>
<p class="note">{{.Keep}} Issued {{.Issued}}.</p>
</body></html>
`))

// HTML renders the slip as a printable HTML page (every value escaped).
func (s *Slip) HTML() ([]byte, error) {
	var b bytes.Buffer
	err := slipHTML.Execute(&b, map[string]any{
		"UPN": s.UPN, "DisplayName": s.DisplayName, "Code": string(s.Code), "From": s.when(s.Start), "Until": s.when(s.Expiry),
		"Use": s.useText(), "URL": template.URL(s.URL), "Steps": s.Steps(), "Issued": s.when(s.Issued), "Title": s.title(), "Keep": s.keep(),
	})
	if err != nil {
		return nil, fmt.Errorf("render the slip: %w", err)
	}
	return b.Bytes(), nil
}

// Render renders the slip as "text" or "html".
func (s *Slip) Render(format string) ([]byte, error) {
	switch format {
	case "", "text":
		return s.Text(), nil
	case "html":
		return s.HTML()
	}
	return nil, fmt.Errorf("slip format %q: want text or html", format)
}

// oneLine keeps a directory value on one line of the slip, safe to show
// (internal/safetext).
func oneLine(s string) string { return safetext.Line(s) }
