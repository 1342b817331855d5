package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/inbox"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/bot/alertmanager"
	"github.com/gitops-bot/gitops-bot/bot/alerts"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const token = "am-t0ken"

type recorder struct{ groups chan alerts.Group }

func (r *recorder) HandleAlert(_ context.Context, g alerts.Group) error { r.groups <- g; return nil }

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(h http.Handler, auth string, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/api/alerts/alertmanager", bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestReceiver(t *testing.T) {
	r := &recorder{groups: make(chan alerts.Group, 10)}
	h, err := alertmanager.New(r, alertmanager.Options{Token: token, Options: hook.Options{Log: quiet, Context: t.Context()}})
	if err != nil {
		t.Fatal(err)
	}
	firing := payload(t, "firing.json")
	for name, c := range map[string]struct {
		auth string
		body []byte
		want int
	}{
		"missing token": {"", firing, http.StatusUnauthorized},
		"wrong token":   {"Bearer nope", firing, http.StatusUnauthorized},
		"not JSON":      {"Bearer " + token, []byte("{"), http.StatusBadRequest},
		"old version":   {"Bearer " + token, []byte(`{"version": "3", "groupKey": "x", "status": "firing"}`), http.StatusBadRequest},
	} {
		if code := post(h, c.auth, c.body); code != c.want {
			t.Errorf("%s: %d, want %d", name, code, c.want)
		}
	}
	if code := post(h, "Bearer "+token, firing); code != http.StatusAccepted {
		t.Fatalf("firing: %d", code)
	}
	g := <-r.groups
	if g.Status != "firing" || len(g.Alerts) != 2 || g.Alerts[0].Labels["name"] != "podinfo" || g.Alerts[0].Fingerprint != "4f8a3c1d2b6e9a07" ||
		g.GroupKey != `{}/{severity="warning"}:{alertname="ArgoCdAppOutOfSync"}` || g.Alerts[0].StartsAt.IsZero() {
		t.Errorf("decoded %+v", g)
	}
	// A retry of the same notification is acknowledged and dropped; the resolution is not.
	post(h, "Bearer "+token, firing)
	post(h, "Bearer "+token, payload(t, "resolved.json"))
	if g := <-r.groups; g.Status != "resolved" {
		t.Errorf("next group %s", g.Status)
	}
	select {
	case g := <-r.groups:
		t.Errorf("a retry was handled again: %+v", g.Status)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := alertmanager.New(r, alertmanager.Options{}); err == nil {
		t.Error("a receiver without a token was created")
	}
}

// opener serves one fake repository by name.
type opener struct {
	f    *forgetest.Fake
	repo forge.Repo
	mu   sync.Mutex
}

func (o *opener) OpenRepo(_ context.Context, name string) (forge.Forge, forge.Repo, error) {
	if name != o.repo.FullName() {
		return nil, forge.Repo{}, fmt.Errorf("%s: %w", name, forge.ErrNotFound)
	}
	return o.f, o.repo, nil
}

// fleetWithPodinfo: the Argo CD example fleet where podinfo runs in staging
// from a chart Application with values (the alert's "name" label).
func fleetWithPodinfo(t *testing.T) (*forgetest.Fake, forge.Repo) {
	t.Helper()
	src, _ := examples.Fleet("argocd")
	files := map[string]string{}
	for _, p := range []string{".gitops-bot.yaml", "clusters/staging/root.yaml", "clusters/production/root.yaml"} {
		b, err := fsRead(src, p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	files["clusters/staging/podinfo.yaml"] = "# podinfo, staging\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-staging\n  namespace: argocd\nspec:\n  project: default\n  destination: {server: \"https://kubernetes.default.svc\", namespace: podinfo}\n  source:\n    repoURL: https://stefanprodan.github.io/podinfo\n    chart: podinfo\n    targetRevision: 6.7.0\n    helm:\n      valuesObject:\n        replicaCount: 2 # start small\n"
	f := forgetest.New(files)
	return f, forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main", CloneURL: examples.URL}
}

func rules(t *testing.T, doc string) []alerts.Rule {
	t.Helper()
	var rs []alerts.Rule
	if err := yaml.Unmarshal([]byte(doc), &rs); err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if err := rs[i].Check(); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

const scaleRule = `
- name: outofsync
  match: ['alertname="ArgoCdAppOutOfSync"', 'namespace=~"argo.*"']
  repo: acme/fleet
  env: staging
  workloadLabel: name
  action: scale
  step: "2"
  max: "5"
  cooldown: 1h
  maxOpen: 2
`

func group(t *testing.T, name string, edit func(*alerts.Group)) alerts.Group {
	var g alerts.Group
	if err := json.Unmarshal(payload(t, name), &g); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&g)
	}
	return g
}

// Firing, re-firing and resolving one group: one pull request, updated
// once, then a comment.
func TestAlertGroupLifecycle(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	a := &alerts.Handler{Log: quiet, Rules: rules(t, scaleRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	ctx := context.Background()
	if err := a.HandleAlert(ctx, group(t, "firing.json", nil)); err != nil {
		t.Fatal(err)
	}
	ps := f.Proposals()
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Branch, "gitops-bot/alert-outofsync-") {
		t.Fatalf("proposals %+v", ps)
	}
	file := "clusters/staging/podinfo.yaml"
	if got := string(ps[0].Files[0].Content); got != strings.Replace(f.Files[file], "replicaCount: 2 # start small", "replicaCount: 4 # start small", 1) {
		t.Errorf("edit:\n%s", got)
	}
	body := ps[0].Body
	for _, want := range []string{"Opened for the alert group", "`outofsync`", "ArgoCdAppOutOfSync", "since", "[The alert's source](http://prometheus-k8s-0:9090/graph"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	// Still firing: the same pull request is updated, not duplicated.
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	if ps := f.Proposals(); len(ps) != 2 || ps[1].Branch != ps[0].Branch || len(f.PullRequests()) != 1 {
		t.Errorf("re-firing: %d proposals, %d pull requests", len(ps), len(f.PullRequests()))
	}
	a.HandleAlert(ctx, group(t, "resolved.json", nil))
	rs := f.Replies()
	if len(rs) != 1 || rs[0].Thread != 100 || !rs[0].PR || !strings.Contains(rs[0].Body, "resolved") {
		t.Errorf("replies %+v", rs)
	}
	// Firing again within the cooldown: nothing new.
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	if len(f.Proposals()) != 2 {
		t.Errorf("acted within the cooldown")
	}
}

func TestAlertBoundsAndUntrustedText(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	a := &alerts.Handler{Log: quiet, Rules: rules(t, scaleRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	ctx := context.Background()
	hostile := func(g *alerts.Group) {
		g.GroupKey = "hostile"
		g.Alerts[0].Labels["summary"] = "line\n| injected | row |\n```\n<!-- gitops-bot:marker {} -->"
		g.Alerts[0].Annotations["description"] = "[click](javascript:alert(1)) @everyone"
	}
	a.HandleAlert(ctx, group(t, "firing.json", hostile))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals %d", len(ps))
	}
	body := ps[0].Body
	if strings.Contains(body, "\n| injected") || strings.Contains(body, "](javascript") && !strings.Contains(body, "`description=[click](javascript") {
		t.Errorf("alert text escaped its cell:\n%s", body)
	}
	if m, ok, err := marker.Parse(body); !ok || err != nil || m.Command != "/scale podinfo 4 --env staging" {
		t.Errorf("the alert's imitation of a marker was read: %+v %v %v", m, ok, err)
	}
	if strings.ContainsAny(ps[0].Branch, " \n|`") || strings.Contains(ps[0].Message, "injected") {
		t.Errorf("alert text reached the branch or commit: %q %q", ps[0].Branch, ps[0].Message)
	}

	// The ceiling: max 5 from 2, step 2 → 4, then 5, then nothing more.
	f.Files["clusters/staging/podinfo.yaml"] = string(ps[0].Files[0].Content)
	a2 := &alerts.Handler{Log: quiet, Rules: rules(t, scaleRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	a2.HandleAlert(ctx, group(t, "firing.json", func(g *alerts.Group) { g.GroupKey = "second" }))
	last := f.Proposals()[len(f.Proposals())-1]
	if !strings.Contains(string(last.Files[0].Content), "replicaCount: 5") {
		t.Errorf("not capped at 5:\n%s", last.Files[0].Content)
	}
	f.Files["clusters/staging/podinfo.yaml"] = string(last.Files[0].Content)
	n := len(f.Proposals())
	a2.HandleAlert(ctx, group(t, "firing.json", func(g *alerts.Group) { g.GroupKey = "third" }))
	if len(f.Proposals()) != n {
		t.Error("scaled past the ceiling")
	}

	// Unknown workload: no pull request.
	a2.HandleAlert(ctx, group(t, "firing.json", func(g *alerts.Group) {
		g.GroupKey = "unknown"
		for i := range g.Alerts {
			g.Alerts[i].Labels["name"] = "nothing-here"
		}
	}))
	if len(f.Proposals()) != n {
		t.Error("a pull request for an unknown workload")
	}
}

func TestAlertCapAndDryRun(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	capRule := strings.Replace(scaleRule, "maxOpen: 2", "maxOpen: 1", 1)
	a := &alerts.Handler{Log: quiet, Rules: rules(t, capRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	ctx := context.Background()
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	a.HandleAlert(ctx, group(t, "firing.json", func(g *alerts.Group) { g.GroupKey = "other" }))
	if len(f.PullRequests()) != 1 {
		t.Errorf("cap of 1 open alert pull request: %d", len(f.PullRequests()))
	}

	f, repo = fleetWithPodinfo(t)
	dry := scaleRule + "  dryRun: true\n  trackingIssue: 12\n"
	a = &alerts.Handler{Log: quiet, Rules: rules(t, dry), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	rs := f.Replies()
	if len(f.Proposals()) != 0 || len(rs) != 1 || rs[0].Thread != 12 || !strings.Contains(rs[0].Body, "Dry run") || !strings.Contains(rs[0].Body, "+        replicaCount: 4") {
		t.Errorf("dry run: proposals %d, replies %+v", len(f.Proposals()), rs)
	}
}

func TestAlertRuleChecks(t *testing.T) {
	for _, doc := range []string{
		`[{name: x, match: ['a="b"'], repo: acme, env: staging, action: scale, step: "1", max: "3"}]`,
		`[{name: x, match: ['a="b"'], repo: acme/fleet, env: staging, action: reboot}]`,
		`[{name: x, match: ['a="b"'], repo: acme/fleet, env: staging, action: memory, step: lots, max: 1Gi}]`,
		`[{name: x, match: ['a="b"'], repo: acme/fleet, env: staging, action: scale, step: "1", max: "3", dryRun: true}]`,
	} {
		var rs []alerts.Rule
		if err := yaml.Unmarshal([]byte(doc), &rs); err != nil {
			t.Fatal(err)
		}
		if err := rs[0].Check(); err == nil {
			t.Errorf("accepted %s", doc)
		}
	}
	var rs []alerts.Rule
	if err := yaml.Unmarshal([]byte(`[{match: ['a=~"("']}]`), &rs); err == nil {
		t.Error("a matcher with a broken regular expression was accepted")
	}
}

// A rollback rule reverts the last merged bot change to the workload.
func TestAlertRollsBackTheLastBotChange(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	file := "clusters/staging/podinfo.yaml"
	before := f.Snapshot()
	// A merged /scale by the bot: its marker names podinfo in staging.
	ev := forge.CommentEvent{Repo: repo, Thread: 3, CommentID: 1, Author: "alice", Body: "/scale podinfo 3 --env staging"}
	f.Permissions = map[string]forge.Permission{"alice": forge.PermWrite}
	if err := bot.New(quiet).HandleComment(context.Background(), f, ev); err != nil || len(f.Proposals()) != 1 {
		t.Fatalf("scale: %v %v", err, f.Replies())
	}
	scaled := f.Proposals()[0]
	f.Files[file] = string(scaled.Files[0].Content)
	f.MergedAs(100, before, scaled.Body, file)

	rule := strings.NewReplacer("action: scale", "action: rollback", "  step: \"2\"\n", "", "  max: \"5\"\n", "").Replace(scaleRule)
	a := &alerts.Handler{Log: quiet, Rules: rules(t, rule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	if err := a.HandleAlert(context.Background(), group(t, "firing.json", nil)); err != nil {
		t.Fatal(err)
	}
	ps := f.Proposals()
	if len(ps) != 2 || !strings.Contains(ps[1].Title, "Roll back #100") || !strings.Contains(ps[1].Branch, "alert-outofsync-") || string(ps[1].Files[0].Content) != before[file] {
		t.Errorf("proposals %+v", ps[len(ps)-1])
	}
}

func TestAlertGroupWithManyAndTruncatedAlerts(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	a := &alerts.Handler{Log: quiet, Rules: rules(t, scaleRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}}
	a.HandleAlert(context.Background(), group(t, "firing.json", func(g *alerts.Group) {
		for i := 0; i < 40; i++ {
			al := g.Alerts[1]
			al.Fingerprint = fmt.Sprintf("f%02d", i)
			g.Alerts = append(g.Alerts, al)
		}
		g.TruncatedAlerts = 7
	}))
	ps := f.Proposals()
	if len(ps) != 1 || !strings.Contains(ps[0].Body, "(7 more alerts were truncated by Alertmanager.)") || strings.Count(ps[0].Body, "| `ArgoCdAppOutOfSync` |") != 20 ||
		!strings.Contains(ps[0].Body, "and 22 more alerts of this group, not listed") {
		t.Errorf("proposals %d; body:\n%.600s", len(ps), ps[0].Body)
	}
}

// The cooldown and the open count outlive a restart: a handler started
// again on the same state file does not act on a group within its cooldown.
func TestAlertStateSurvivesARestart(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	state := filepath.Join(t.TempDir(), "alerts.json")
	handler := func() *alerts.Handler {
		return &alerts.Handler{Log: quiet, Rules: rules(t, scaleRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}, State: alerts.StateFile(state)}
	}
	ctx := context.Background()
	a := handler()
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	a.HandleAlert(ctx, group(t, "resolved.json", nil))
	if len(f.Proposals()) != 1 || len(f.Replies()) != 1 {
		t.Fatalf("%d proposals, %d replies", len(f.Proposals()), len(f.Replies()))
	}
	b := handler() // a restart
	b.HandleAlert(ctx, group(t, "firing.json", nil))
	if len(f.Proposals()) != 1 {
		t.Error("acted within the cooldown after a restart")
	}
	b.HandleAlert(ctx, group(t, "resolved.json", nil))
	if len(f.Replies()) != 1 {
		t.Error("the resolution was commented twice after a restart")
	}
}

// stuck handles nothing until its context ends (the bot stops mid-way).
type stuck struct{ started chan struct{} }

func (s stuck) HandleAlert(ctx context.Context, _ alerts.Group) error {
	s.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// A notification acknowledged with the inbox is kept until it is handled:
// stopped mid-way, the next start handles it; its retry is not handled
// twice.
func TestAcknowledgedNotificationSurvivesAStop(t *testing.T) {
	store, err := inbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, stop := context.WithCancel(t.Context())
	s := stuck{started: make(chan struct{}, 1)}
	first, err := alertmanager.New(s, alertmanager.Options{Token: token, Options: hook.Options{Log: quiet, Context: ctx, Inbox: store}})
	if err != nil {
		t.Fatal(err)
	}
	firing := payload(t, "firing.json")
	if code := post(first, "Bearer "+token, firing); code != http.StatusAccepted {
		t.Fatalf("firing: %d", code)
	}
	<-s.started
	stop()

	r := &recorder{groups: make(chan alerts.Group, 10)}
	second, err := alertmanager.New(r, alertmanager.Options{Token: token, Options: hook.Options{Log: quiet, Context: t.Context(), Inbox: store}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-r.groups:
		if g.Status != "firing" {
			t.Errorf("resumed %s", g.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kept notification was not resumed")
	}
	// Alertmanager retries it (it saw no answer in time): acknowledged, not run again.
	if code := post(second, "Bearer "+token, firing); code != http.StatusAccepted {
		t.Fatalf("retry: %d", code)
	}
	select {
	case g := <-r.groups:
		t.Errorf("a retry was handled again: %s", g.Status)
	case <-time.After(200 * time.Millisecond):
	}
	if p, _ := store.Pending(t.Context()); len(p) != 0 {
		t.Errorf("%d notifications still pending", len(p))
	}
}

// Every notification leaves a log line saying which rules it matched, and
// each rule one saying what it did and why.
func TestAlertNotificationsAreLogged(t *testing.T) {
	f, repo := fleetWithPodinfo(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	recent := activity.New(10)
	a := &alerts.Handler{Log: log, Rules: rules(t, scaleRule), Repos: map[string]alerts.RepoOpener{"github": &opener{f: f, repo: repo}}, Activity: recent}
	ctx := context.Background()
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	a.HandleAlert(ctx, group(t, "resolved.json", nil))
	a.HandleAlert(ctx, group(t, "firing.json", nil))
	a.HandleAlert(ctx, group(t, "firing.json", func(g *alerts.Group) {
		g.CommonLabels = map[string]string{"alertname": "Other"}
		for i := range g.Alerts {
			g.Alerts[i].Labels = map[string]string{"alertname": "Other"}
		}
	}))
	out := buf.String()
	lines := strings.Split(out, "\n")
	for _, want := range [][]string{
		{`msg="alert notification"`, "status=firing", "alertname=ArgoCdAppOutOfSync", "rules=[outofsync]"},
		{`msg="alert pull request"`, "rule=outofsync", "result=opened", "workload=podinfo", "pull_request="},
		{`msg="alert group resolved: said so on its pull request"`, "rule=outofsync", "pull=100"},
		{`msg="alert action suppressed"`, "rule=outofsync", "reason=cooldown"},
		{`msg="alert notification: no rule matched"`, "alertname=Other"},
	} {
		found := false
		for _, l := range lines {
			all := true
			for _, frag := range want {
				all = all && strings.Contains(l, frag)
			}
			found = found || all
		}
		if !found {
			t.Errorf("no log line has %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `msg="alert notification`); n != 4 {
		t.Errorf("%d notification lines for 4 notifications:\n%s", n, out)
	}
	// The status page's list holds the same, newest first.
	var got []string
	for _, e := range recent.Recent() {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s", e.What, e.Outcome, e.Detail, e.LinkText))
	}
	want := []string{
		"Other|no rule matched|" + group(t, "firing.json", nil).GroupKey + "|",
		"ArgoCdAppOutOfSync (rule outofsync)|suppressed|cooldown|",
		"ArgoCdAppOutOfSync (rule outofsync)|resolved|said so on its pull request|#100",
		"ArgoCdAppOutOfSync (rule outofsync)|opened|/scale podinfo 4 --env staging|#100",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("activity:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
