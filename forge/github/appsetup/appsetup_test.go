package appsetup

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	gitopsbot "github.com/gitops-bot/gitops-bot"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// bot runs the setup pages the way serve does with no App configured.
func bot(t *testing.T, gh *githubtest.Server) (*httptest.Server, *Setup) {
	s := &Setup{Manifest: gitopsbot.AppManifest, WebURL: gh.WebURL(), APIURL: gh.APIURL(), SaveTo: filepath.Join(t.TempDir(), "github-app.yaml")}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s
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
	srv, s := bot(t, gh)
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
}

func TestBadInputGetsAClearAnswer(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	srv, s := bot(t, gh)
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
}
