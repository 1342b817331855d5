// Package appsetup serves the page that creates the bot's GitHub App with
// GitHub's App manifest flow, for a server that has none configured yet:
//
//  1. GET /setup asks for this server's public address (and an
//     organization, if the App is to belong to one);
//  2. POST /setup/manifest answers a form that posts app.yml, with the
//     webhook and redirect addresses filled in, to GitHub;
//  3. GitHub creates the App and sends the browser back to
//     GET /setup/callback with a one-time code, which is exchanged
//     (POST /app-manifests/{code}/conversions) for the App's ID, private
//     key and webhook secret; the page shows how to store them, and they
//     are saved in a file only the bot's user can read.
//
// GitHub wants the three steps within an hour; a state token ties the
// callback to a form this server handed out.
package appsetup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"
	"gopkg.in/yaml.v3"
)

// Setup is the handler of /setup and its two steps.
type Setup struct {
	// Manifest is app.yml: name, events, permissions.
	Manifest []byte
	// WebURL is GitHub's web address (default https://github.com; GitHub
	// Enterprise Server: https://HOST); APIURL its REST API's
	// (default https://api.github.com/).
	WebURL, APIURL string
	// SaveTo, when set, is the file the App's credentials are written to
	// (mode 0600) as a server configuration, so that a closed browser tab
	// loses nothing.
	SaveTo string
	Client *http.Client
	Now    func() time.Time
	// Log gets each failure of the flow (the page alone would leave the
	// operator nothing to read later) and the App created.
	Log *slog.Logger

	mu     sync.Mutex
	states map[string]time.Time // handed out, with their expiry
}

// stateLife is how long a handed-out form stays good: GitHub's limit for
// the whole flow.
const stateLife = time.Hour

// Routes mounts the setup pages on mux.
func (s *Setup) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /setup", s.start)
	mux.HandleFunc("POST /setup/manifest", s.manifest)
	mux.HandleFunc("GET /setup/callback", s.callback)
}

func (s *Setup) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Setup) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Setup) webURL() string {
	if s.WebURL != "" {
		return strings.TrimSuffix(s.WebURL, "/")
	}
	return "https://github.com"
}

// start asks for the server's public address, guessed from the request.
func (s *Setup) start(w http.ResponseWriter, r *http.Request) {
	guess := origin(r)
	render(w, http.StatusOK, startPage, map[string]any{"URL": guess, "GitHub": s.webURL(), "Unreachable": unreachable(guess)})
}

// origin is the address the browser reached this server on: the Origin a
// browser sends with a form, else the request's (forwarded) host. GitHub
// sends the browser back there, which may be a port-forward that GitHub's
// webhooks could not reach.
func origin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return strings.TrimSuffix(o, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = h
	}
	return scheme + "://" + host
}

var orgName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// manifest answers the form that posts the manifest to GitHub.
func (s *Setup) manifest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	public, err := publicURL(r.PostForm.Get("url"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	org := strings.TrimSpace(r.PostForm.Get("org"))
	if org != "" && !orgName.MatchString(org) {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a GitHub organization name (letters, digits and hyphens, at most 39).", org))
		return
	}
	body, err := s.manifestJSON(public, origin(r), strings.TrimSpace(r.PostForm.Get("name")))
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	state, err := s.newState()
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	target := s.webURL() + "/settings/apps/new"
	if org != "" {
		target = s.webURL() + "/organizations/" + org + "/settings/apps/new"
	}
	render(w, http.StatusOK, postPage, map[string]any{
		"Action":   target + "?state=" + url.QueryEscape(state),
		"Manifest": string(body), "Hook": public + "/api/github/hook", "Org": org, "Unreachable": unreachable(public),
	})
}

// cgnat is the shared address space of RFC 6598: no more public than a
// private one.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// unreachable says why GitHub.com could not send webhooks to address, or
// "". A warning, not a refusal: a GitHub Enterprise Server on the same
// network reaches private addresses.
func unreachable(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return ""
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return host + " is this machine (loopback)"
	case host != "" && !strings.Contains(host, ".") && !strings.Contains(host, ":"):
		return host + " is a name without a domain, known only inside its network"
	case strings.HasSuffix(host, ".svc") || strings.HasSuffix(host, ".cluster.local") || strings.HasSuffix(host, ".internal"):
		return host + " is a name known only inside its cluster or network"
	case strings.HasSuffix(host, ".local"):
		return host + " is a name of the local network (mDNS)"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	switch ip = ip.Unmap(); {
	case ip.IsLoopback():
		return host + " is this machine (loopback)"
	case ip.IsUnspecified():
		return host + " is no one address (unspecified)"
	case ip.IsPrivate(), cgnat.Contains(ip):
		return host + " is a private address"
	case ip.IsLinkLocalUnicast():
		return host + " is a link-local address"
	}
	return ""
}

// publicURL checks the address GitHub is to send webhooks to.
func publicURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not this server's address: want https://HOST (a path prefix is kept), the address GitHub can reach", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// manifestJSON is app.yml as GitHub's manifest, with this server's
// webhook address (public) and the address to come back to (back).
func (s *Setup) manifestJSON(public, back, name string) ([]byte, error) {
	var m map[string]any
	if err := yaml.Unmarshal(s.Manifest, &m); err != nil || m == nil {
		return nil, fmt.Errorf("the App manifest does not parse: %v", err)
	}
	hook, _ := m["hook_attributes"].(map[string]any)
	if hook == nil {
		hook = map[string]any{"active": true}
	}
	hook["url"] = public + "/api/github/hook"
	m["hook_attributes"] = hook
	m["redirect_url"] = back + "/setup/callback"
	if name != "" {
		m["name"] = name
	}
	return json.Marshal(m)
}

func (s *Setup) newState() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	state := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[string]time.Time{}
	}
	now := s.now()
	for k, exp := range s.states { // forget the expired
		if now.After(exp) {
			delete(s.states, k)
		}
	}
	s.states[state] = now.Add(stateLife)
	return state, nil
}

// knownState: a state this server handed out within the hour.
func (s *Setup) knownState(state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.states[state]
	return ok && !s.now().After(exp)
}

// dropState consumes a state once its App's credentials are in hand: each
// form is good for one App. A failed exchange keeps it, so reloading the
// page tries again with GitHub's code (good for an hour).
func (s *Setup) dropState(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.states, state)
}

// callback exchanges GitHub's code for the App's credentials.
func (s *Setup) callback(w http.ResponseWriter, r *http.Request) {
	code, state := r.URL.Query().Get("code"), r.URL.Query().Get("state")
	if code == "" {
		s.fail(w, r, http.StatusBadRequest, "GitHub sent no code: the App was not created. Start again at /setup.")
		return
	}
	if !s.knownState(state) {
		s.fail(w, r, http.StatusBadRequest, "This page was not reached from a form this server handed out in the last hour (or it was used already). Start again at /setup; the App GitHub may have created is listed in your GitHub settings and can be deleted there.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	app, err := s.exchange(ctx, code)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err.Error())
		return
	}
	s.dropState(state)
	s.log().Info("setup: GitHub App created", "app_id", app.GetID(), "app", app.GetSlug())
	saved, saveErr := "", error(nil)
	if s.SaveTo != "" {
		if saveErr = s.save(app); saveErr == nil {
			saved = s.SaveTo
			s.log().Info("setup: the App's credentials are saved", "file", saved)
		} else {
			s.log().Warn("setup: the App's credentials could not be saved; they are on the page alone", "file", s.SaveTo, "err", saveErr)
		}
	}
	env := secretKeys(app)
	secret, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]string{"name": "gitops-bot"}, "stringData": env})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	var shell strings.Builder
	for _, k := range []string{"GITHUB_APP_INTEGRATION_ID", "GITHUB_APP_WEBHOOK_SECRET", "GITHUB_APP_PRIVATE_KEY"} {
		fmt.Fprintf(&shell, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	data := map[string]any{
		"ID": app.GetID(), "Name": app.GetName(), "HTMLURL": app.GetHTMLURL(), "Saved": saved,
		"Install": strings.TrimSuffix(app.GetHTMLURL(), "/") + "/installations/new",
		"Secret":  string(secret), "Env": shell.String(),
	}
	if saveErr != nil {
		data["SaveError"] = saveErr.Error()
	}
	render(w, http.StatusOK, donePage, data)
}

func (s *Setup) exchange(ctx context.Context, code string) (*github.AppConfig, error) {
	client := github.NewClient(s.Client)
	if s.APIURL != "" {
		base, err := url.Parse(strings.TrimSuffix(s.APIURL, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("github.v3APIURL: %v", err)
		}
		client.BaseURL = base
	}
	app, resp, err := client.Apps.CompleteAppManifest(ctx, url.PathEscape(code))
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil, errors.New("GitHub does not know this code: it is used or older than an hour. Start again at /setup.")
	}
	if err != nil {
		return nil, fmt.Errorf("exchanging GitHub's code for the App's credentials: %v. Reload this page to try again within the hour.", err)
	}
	if app.GetID() == 0 || app.GetPEM() == "" || app.GetWebhookSecret() == "" {
		return nil, errors.New("GitHub's answer lacks the App's ID, private key or webhook secret")
	}
	return app, nil
}

// secretKeys are the App's credentials under the environment variables
// serve reads (the keys of the Secret deploy/ mounts).
func secretKeys(app *github.AppConfig) map[string]string {
	return map[string]string{
		"GITHUB_APP_INTEGRATION_ID": fmt.Sprint(app.GetID()),
		"GITHUB_APP_WEBHOOK_SECRET": app.GetWebhookSecret(),
		"GITHUB_APP_PRIVATE_KEY":    app.GetPEM(),
	}
}

// save writes the credentials as a server configuration for --config.
func (s *Setup) save(app *github.AppConfig) error {
	var c struct {
		GitHub struct {
			WebURL   string `yaml:"webURL,omitempty"`
			V3APIURL string `yaml:"v3APIURL,omitempty"`
			App      struct {
				IntegrationID int64  `yaml:"integrationID"`
				WebhookSecret string `yaml:"webhookSecret"`
				PrivateKey    string `yaml:"privateKey"`
			} `yaml:"app"`
		} `yaml:"github"`
	}
	c.GitHub.WebURL, c.GitHub.V3APIURL = s.WebURL, s.APIURL
	c.GitHub.App.IntegrationID, c.GitHub.App.WebhookSecret, c.GitHub.App.PrivateKey = app.GetID(), app.GetWebhookSecret(), app.GetPEM()
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	// O_EXCL: a second App never overwrites the first one's credentials.
	f, err := os.OpenFile(s.SaveTo, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append([]byte("# The GitHub App created on the setup page. Keep it secret.\n"), b...)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fail answers the page with msg and logs it: the operator may read the
// log, not the browser tab.
func (s *Setup) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.log().Warn("setup: "+msg, "path", r.URL.Path, "status", code)
	render(w, code, failPage, map[string]any{"Message": msg})
}

func render(w http.ResponseWriter, code int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No script; the one form posts to GitHub. The credentials page is
	// neither cached nor sent as a referrer.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http:")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	t.Execute(w, data) //nolint:errcheck // the status is sent; a broken connection is the client's
}
