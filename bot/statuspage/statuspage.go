// Package statuspage serves the bot's read-only status page at "/": the
// health of each host and cluster, the pending verifications with their
// targets and last state, and the recent commands and alert notifications
// with their outcome. It shows no secret (no token, key or config value),
// and can be put behind a token of its own.
package statuspage

import (
	"crypto/subtle"
	_ "embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

// Check is the last result of one start-up check (a host or a cluster).
type Check struct {
	Name  string
	OK    bool
	Error string
	Notes []string
	At    time.Time
}

// Page is the handler. Every source may be nil.
type Page struct {
	// Token, when set, is asked for as a bearer token or as the password
	// of HTTP basic authentication (what a browser prompts for).
	Token    string
	Version  string
	Checks   func() []Check
	Ready    func() (bool, string)
	Pending  func() []verify.State
	Activity *activity.Log
	Now      func() time.Time
}

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"short": func(sha string) string { return sha[:min(len(sha), 8)] },
	"age":   age,
}).Parse(pageHTML))

// view is what the template renders.
type view struct {
	Version  string
	Now      time.Time
	Ready    bool
	Why      string
	Checks   []Check
	Pending  []pending
	Activity []activity.Entry
}

type pending struct {
	verify.State
	PullURL, PullRef string
	Deadline         time.Time
}

func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if !p.allowed(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="gitops-bot status"`)
		http.Error(w, "the status page needs its token (status.token)", http.StatusUnauthorized)
		return
	}
	v := view{Version: p.Version, Now: time.Now(), Ready: true}
	if p.Now != nil {
		v.Now = p.Now()
	}
	if p.Ready != nil {
		v.Ready, v.Why = p.Ready()
	}
	if p.Checks != nil {
		v.Checks = p.Checks()
	}
	if p.Pending != nil {
		for _, st := range p.Pending() {
			req := st.Request
			v.Pending = append(v.Pending, pending{State: st, Deadline: st.Started.Add(req.Timeout),
				PullURL: req.Repo.ThreadURL(req.PR, true), PullRef: req.Repo.PullRef(req.PR)})
		}
	}
	v.Activity = p.Activity.Recent()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page runs no script and loads nothing: say so to the browser.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if err := page.Execute(w, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (p *Page) allowed(r *http.Request) bool {
	if p.Token == "" {
		return true
	}
	given := ""
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = b
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(p.Token)) == 1
}

// age says how long ago t was, to the second.
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
}
