package appsetup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	gitopsbot "github.com/gitops-bot/gitops-bot"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// lockedBuffer is a log the handlers write while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bot runs the setup pages the way serve does with no App configured;
// s.Log writes to the second result.
func bot(t *testing.T, gh *githubtest.Server) (*httptest.Server, *Setup) {
	srv, s, _ := botLogs(t, gh)
	return srv, s
}

func botLogs(t *testing.T, gh *githubtest.Server) (*httptest.Server, *Setup, *lockedBuffer) {
	logs := &lockedBuffer{}
	s := &Setup{Manifest: gitopsbot.AppManifest, WebURL: gh.WebURL(), APIURL: gh.APIURL(), SaveTo: filepath.Join(t.TempDir(), "github-app.yaml"),
		Log: slog.New(slog.NewTextHandler(logs, nil))}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s, logs
}

// form finds the page's form: its action and fields.
func form(t *testing.T, page string) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	action, fields := "", url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				action = attr["action"]
			case "input":
				fields.Set(attr["name"], attr["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if action == "" {
		t.Fatalf("no form in:\n%s", page)
	}
	return action, fields
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	return read(t, resp, err)
}

func read(t *testing.T, resp *http.Response, err error) (int, string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postForm posts like a browser: with the page's Origin.
func postForm(t *testing.T, to, origin string, v url.Values) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, to, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	return read(t, resp, err)
}

func TestManifestFlow(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	srv, s := bot(t, gh)

	code, page := get(t, srv.URL+"/setup")
	if code != 200 {
		t.Fatalf("setup page %d", code)
	}
	action, fields := form(t, page)
	if action != "/setup/manifest" || fields.Get("url") != srv.URL {
		t.Fatalf("start form: %s %v", action, fields)
	}
	// The operator names the public address and an organization.
	fields.Set("url", "https://gitops-bot.example.com/")
	fields.Set("org", "acme")
	code, page = postForm(t, srv.URL+action, srv.URL, fields)
	if code != 200 {
		t.Fatalf("manifest page %d: %s", code, page)
	}
	action, fields = form(t, page)
	if !strings.HasPrefix(action, gh.WebURL()+"/organizations/acme/settings/apps/new?state=") {
		t.Fatalf("the form posts to %s", action)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(fields.Get("manifest")), &m); err != nil {
		t.Fatalf("manifest field: %v", err)
	}
	var want map[string]any
	yaml.Unmarshal(gitopsbot.AppManifest, &want)
	hook := m["hook_attributes"].(map[string]any)
	if hook["url"] != "https://gitops-bot.example.com/api/github/hook" || hook["active"] != true ||
		m["redirect_url"] != srv.URL+"/setup/callback" || m["name"] != want["name"] ||
		fmt.Sprint(m["default_permissions"]) != fmt.Sprint(want["default_permissions"]) ||
		fmt.Sprint(m["default_events"]) != fmt.Sprint(want["default_events"]) {
		t.Errorf("manifest %v", m)
	}

	// The browser posts it to GitHub, which comes back with a code; the
	// first exchange fails (GitHub has a bad moment), and a reload of the
	// page gets the credentials.
	gh.FailNext("POST /app-manifests/v1.manifest0/conversions", http.StatusBadGateway)
	code, page = postForm(t, action, srv.URL, fields)
	if code != http.StatusBadGateway || !strings.Contains(page, "Reload this page to try again") {
		t.Fatalf("failed exchange %d: %s", code, page)
	}
	u, _ := url.Parse(action)
	code, page = get(t, srv.URL+"/setup/callback?code=v1.manifest0&state="+u.Query().Get("state"))
	if code != 200 {
		t.Fatalf("callback %d: %s", code, page)
	}
	apps, orgs := gh.CreatedApps()
	if len(apps) != 1 || orgs[0] != "acme" {
		t.Fatalf("GitHub got %d Apps, in %v", len(apps), orgs)
	}
	for _, want := range []string{"App ID <b>4200</b>", "https://github.com/apps/gitops-bot/installations/new",
		"GITHUB_APP_INTEGRATION_ID: &#34;4200&#34;", "GITHUB_APP_WEBHOOK_SECRET: e340154128314309424b7c8e90325140",
		"GITHUB_APP_PRIVATE_KEY: |", "BEGIN RSA PRIVATE KEY", "export GITHUB_APP_INTEGRATION_ID=&#39;4200&#39;", s.SaveTo} {
		if !strings.Contains(page, want) {
			t.Errorf("done page lacks %q:\n%s", want, page)
		}
	}
	// Saved for --config, readable by the owner only.
	info, err := os.Stat(s.SaveTo)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", info, err)
	}
	var saved struct {
		GitHub struct {
			App struct {
				IntegrationID int64  `yaml:"integrationID"`
				PrivateKey    string `yaml:"privateKey"`
				WebhookSecret string `yaml:"webhookSecret"`
			} `yaml:"app"`
		} `yaml:"github"`
	}
	b, _ := os.ReadFile(s.SaveTo)
	if err := yaml.Unmarshal(b, &saved); err != nil || saved.GitHub.App.IntegrationID != 4200 || !strings.Contains(saved.GitHub.App.PrivateKey, "BEGIN RSA PRIVATE KEY") || saved.GitHub.App.WebhookSecret == "" {
		t.Errorf("saved %+v (%v):\n%s", saved, err, b)
	}

	// The same callback again: its state is used up.
	code, page = get(t, srv.URL+"/setup/callback?code=v1.manifest0&state="+u.Query().Get("state"))
	if code != http.StatusBadRequest || !strings.Contains(page, "Start again at /setup") {
		t.Errorf("reused state: %d %s", code, page)
	}
}

func TestSecondAppDoesNotOverwriteTheFirst(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	srv, s, logs := botLogs(t, gh)
	os.WriteFile(s.SaveTo, []byte("first"), 0o600)
	_, page := postForm(t, srv.URL+"/setup/manifest", srv.URL, url.Values{"url": {srv.URL}})
	action, fields := form(t, page)
	if !strings.HasPrefix(action, gh.WebURL()+"/settings/apps/new?state=") {
		t.Errorf("without an organization the form posts to %s", action)
	}
	code, page := postForm(t, action, srv.URL, fields)
	if code != 200 || !strings.Contains(page, "could not be saved on the server") || !strings.Contains(page, "BEGIN RSA PRIVATE KEY") {
		t.Errorf("%d %s", code, page)
	}
	if b, _ := os.ReadFile(s.SaveTo); string(b) != "first" {
		t.Errorf("overwritten: %s", b)
	}
	if !strings.Contains(logs.String(), `level=INFO msg="setup: GitHub App created" app_id=4200`) ||
		!strings.Contains(logs.String(), `level=WARN msg="setup: the App's credentials could not be saved; they are on the page alone" file=`+s.SaveTo) {
		t.Errorf("the log does not say what became of the App:\n%s", logs)
	}
}

func TestBadInputGetsAClearAnswer(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	srv, s, logs := botLogs(t, gh)
	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no scheme", url.Values{"url": {"gitops-bot.example.com"}}, "is not this server&#39;s address"},
		{"script", url.Values{"url": {"javascript:alert(1)"}}, "is not this server&#39;s address"},
		{"credentials", url.Values{"url": {"https://u:p@example.com"}}, "is not this server&#39;s address"},
		{"organization", url.Values{"url": {"https://example.com"}, "org": {"../../evil"}}, "is not a GitHub organization name"},
	} {
		code, page := postForm(t, srv.URL+"/setup/manifest", srv.URL, c.form)
		if code != http.StatusBadRequest || !strings.Contains(page, c.want) {
			t.Errorf("%s: %d %s", c.name, code, page)
		}
	}
	for _, c := range []struct{ query, want string }{
		{"", "GitHub sent no code"},
		{"code=x&state=forged", "not reached from a form this server handed out"},
	} {
		code, page := get(t, srv.URL+"/setup/callback?"+c.query)
		if code != http.StatusBadRequest || !strings.Contains(page, c.want) {
			t.Errorf("callback %q: %d %s", c.query, code, page)
		}
	}
	// A state handed out more than an hour ago.
	now := time.Now()
	s.Now = func() time.Time { return now }
	state, _ := s.newState()
	now = now.Add(stateLife + time.Minute)
	if code, page := get(t, srv.URL+"/setup/callback?code=code1&state="+state); code != http.StatusBadRequest {
		t.Errorf("expired state: %d %s", code, page)
	}
	// A good state with a code GitHub does not know.
	now = time.Now()
	state, _ = s.newState()
	code, page := get(t, srv.URL+"/setup/callback?code=unknown&state="+state)
	if code != http.StatusBadGateway || !strings.Contains(page, "GitHub does not know this code") {
		t.Errorf("unknown code: %d %s", code, page)
	}
	// Each failure is in the log too, with what the page said.
	for _, want := range []string{
		`level=WARN msg="setup: \"gitops-bot.example.com\" is not this server's address`,
		`is not a GitHub organization name (letters, digits and hyphens, at most 39)." path=/setup/manifest status=400`,
		`level=WARN msg="setup: GitHub sent no code: the App was not created. Start again at /setup." path=/setup/callback status=400`,
		`level=WARN msg="setup: GitHub does not know this code: it is used or older than an hour. Start again at /setup." path=/setup/callback status=502`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
}

// GitHub.com cannot send webhooks to a loopback, private or cluster-only
// address: the page says so where the address is guessed and where it is
// given, and still lets a GitHub Enterprise Server on the same network
// have it.
func TestSetupWarnsOfAnAddressGitHubCannotReach(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	srv, _ := bot(t, gh)
	_, page := get(t, srv.URL+"/setup") // a port-forward: 127.0.0.1
	if !strings.Contains(page, `id="unreachable"`) || !strings.Contains(page, "127.0.0.1 is this machine (loopback)") {
		t.Errorf("the guessed loopback address has no warning:\n%s", page)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/setup", nil)
	req.Header.Set("X-Forwarded-Host", "gitops-bot.example.com")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if _, page := read(t, resp, err); strings.Contains(page, `id="unreachable"`) || !strings.Contains(page, "https://gitops-bot.example.com") {
		t.Errorf("a public address got a warning:\n%s", page)
	}
	code, page := postForm(t, srv.URL+"/setup/manifest", srv.URL, url.Values{"url": {"http://10.0.3.7:8080"}})
	if code != http.StatusOK || !strings.Contains(page, "10.0.3.7 is a private address, so no webhook") {
		t.Errorf("a private address: %d\n%s", code, page)
	}
	if action, _ := form(t, page); !strings.HasPrefix(action, gh.WebURL()) {
		t.Errorf("the form no longer goes on to GitHub: %s", action)
	}
	_, page = postForm(t, srv.URL+"/setup/manifest", srv.URL, url.Values{"url": {"https://gitops-bot.example.com"}})
	if strings.Contains(page, `id="unreachable"`) {
		t.Errorf("a public address got a warning:\n%s", page)
	}

	for address, want := range map[string]string{
		"http://localhost:8080":                "localhost is this machine (loopback)",
		"http://[::1]:8080":                    "::1 is this machine (loopback)",
		"http://192.168.1.20":                  "192.168.1.20 is a private address",
		"https://172.20.0.4":                   "172.20.0.4 is a private address",
		"https://100.64.1.1":                   "100.64.1.1 is a private address",
		"http://[fd00::5]":                     "fd00::5 is a private address",
		"http://169.254.10.1":                  "169.254.10.1 is a link-local address",
		"http://0.0.0.0:8080":                  "0.0.0.0 is no one address (unspecified)",
		"http://gitops-bot:8080":               "gitops-bot is a name without a domain",
		"http://gitops-bot.gitops-bot.svc":     "gitops-bot.gitops-bot.svc is a name known only inside its cluster",
		"http://bot.default.svc.cluster.local": "bot.default.svc.cluster.local is a name known only inside its cluster",
		"http://raspberrypi.local":             "raspberrypi.local is a name of the local network (mDNS)",
		"https://gitops-bot.example.com":       "",
		"https://8.8.8.8":                      "",
		"https://[2001:4860:4860::8888]":       "",
	} {
		if got := unreachable(address); !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("unreachable(%s) = %q, want %q", address, got, want)
		}
	}
}
