package verbs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/schema"
)

func TestDeployFluxOpensPullRequest(t *testing.T) {
	f := bottest.NewFake(nil)
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", "Let's ship it.\n"+podinfo))

	if got := f.Reactions(forge.CommentRef{Thread: 7, ID: 1}); len(got) != 1 || got[0] != "eyes" {
		t.Errorf("reactions = %v, want [eyes]", got)
	}
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d, want 1", len(ps))
	}
	c := ps[0]
	if c.Branch != "gitops-bot/deploy-podinfo-staging" || c.Base != "main" {
		t.Errorf("branch %q base %q", c.Branch, c.Base)
	}
	if len(c.Files) != 1 || c.Files[0].Path != "clusters/staging/podinfo.yaml" {
		t.Fatalf("files = %+v", c.Files)
	}
	objs := bottest.Docs(t, c.Files[0].Content)
	if len(objs) != 2 || objs[0]["kind"] != "HelmRepository" || objs[1]["kind"] != "HelmRelease" {
		t.Fatalf("objects = %v", objs)
	}
	for _, o := range objs {
		if err := schema.Validate(context.Background(), o); err != nil {
			t.Errorf("schema: %v", err)
		}
	}
	values := objs[1]["spec"].(map[string]any)["values"].(map[string]any)
	if values["replicaCount"] != float64(2) {
		t.Errorf("values = %v, want replicaCount 2", values)
	}
	m, ok, err := marker.Parse(c.Body)
	if !ok || err != nil {
		t.Fatalf("marker: ok=%v err=%v in\n%s", ok, err, c.Body)
	}
	if m.Requester != "alice" || m.Provider != "flux" || m.Command != podinfo || len(m.Objects) != 2 || m.Objects[1].Kind != "HelmRelease" || m.Objects[1].Namespace != "flux-system" {
		t.Errorf("marker = %+v", m)
	}
	if !strings.Contains(reply, "Opened #100") || !strings.Contains(reply, "clusters/staging/podinfo.yaml") {
		t.Errorf("reply = %q", reply)
	}
}

func TestDeployArgoCD(t *testing.T) {
	for _, tc := range []struct{ name, config, flag string }{
		{"flag", "", " --provider argocd"},
		{"config", "provider: argocd\nenvironments:\n- name: staging\n  argocd: {namespace: gitops, project: web}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			if tc.config != "" {
				files[config.Path] = tc.config
			}
			f := bottest.NewFake(files)
			bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", podinfo+tc.flag))
			ps := f.Proposals()
			if len(ps) != 1 {
				t.Fatalf("proposals = %d", len(ps))
			}
			objs := bottest.Docs(t, ps[0].Files[0].Content)
			if len(objs) != 1 || objs[0]["kind"] != "Application" {
				t.Fatalf("objects = %v", objs)
			}
			if err := schema.Validate(context.Background(), objs[0]); err != nil {
				t.Error(err)
			}
			src := objs[0]["spec"].(map[string]any)["source"].(map[string]any)
			if src["chart"] != "podinfo" || src["repoURL"] != "https://stefanprodan.github.io/podinfo" || src["targetRevision"] != "6.7.0" {
				t.Errorf("source = %v", src)
			}
			if tc.config != "" {
				meta := objs[0]["metadata"].(map[string]any)
				if meta["namespace"] != "gitops" || objs[0]["spec"].(map[string]any)["project"] != "web" {
					t.Errorf("config not applied: %v", objs[0])
				}
			}
		})
	}
}

func TestDeployOCIChartUsesOCIRepository(t *testing.T) {
	f := bottest.NewFake(nil)
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", "/deploy podinfo --chart oci://ghcr.io/stefanprodan/charts/podinfo --version 6.7.0 --env staging"))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d", len(ps))
	}
	objs := bottest.Docs(t, ps[0].Files[0].Content)
	if objs[0]["kind"] != "OCIRepository" {
		t.Fatalf("first object %v", objs[0]["kind"])
	}
	ref := objs[1]["spec"].(map[string]any)["chartRef"].(map[string]any)
	if ref["kind"] != "OCIRepository" || ref["name"] != "podinfo" {
		t.Errorf("chartRef = %v", ref)
	}
}

func TestDeployValuesFileThenSet(t *testing.T) {
	f := bottest.NewFake(map[string]string{"values/podinfo.yaml": "replicaCount: 5\nui:\n  color: '#34577c'\n  message: hi\n"})
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", podinfo+" --values values/podinfo.yaml --set ui.message=hello"))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d, replies %v", len(ps), f.Replies())
	}
	values := bottest.Docs(t, ps[0].Files[0].Content)[1]["spec"].(map[string]any)["values"].(map[string]any)
	ui := values["ui"].(map[string]any)
	if values["replicaCount"] != float64(2) || ui["color"] != "#34577c" || ui["message"] != "hello" {
		t.Errorf("values = %v", values)
	}
}

func TestDeployRejectsBadInput(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown flag", podinfo + " --replica 3", "unknown flag: --replica"},
		{"image flags with a chart", podinfo + " --port 8080", "--port, --replicas, --ingress and --format go with --image"},
		{"no app", "/deploy --chart https://x.io/c --version 1.0.0 --env staging", "missing APP"},
		{"two apps", "/deploy a b --chart https://x.io/c --version 1.0.0 --env staging", `unexpected argument "b"`},
		{"bad app name", "/deploy Pod_Info --chart https://x.io/c --version 1.0.0 --env staging", "APP \"Pod_Info\""},
		{"no chart", "/deploy a --version 1.0.0 --env staging", "--chart or --image is required"},
		{"chart not a URL", "/deploy a --chart podinfo --version 1.0.0 --env staging", "https:// or oci://"},
		{"chart with credentials", "/deploy a --chart https://u:p@x.io/c --version 1.0.0 --env staging", "no credentials"},
		{"no version", "/deploy a --chart https://x.io/c --env staging", "needs --version"},
		{"bad version", "/deploy a --chart https://x.io/c --version banana --env staging", "neither a version nor a semver range"},
		{"no env", "/deploy a --chart https://x.io/c --version 1.0.0", "--env is required"},
		{"bad env", "/deploy a --chart https://x.io/c --version 1.0.0 --env ../prod", "environment name"},
		{"bad provider", podinfo + " --provider jenkins", `--provider "jenkins"`},
		{"bad set", podinfo + " --set a.b", "--set a.b"},
		{"values escapes repo", podinfo + " --values ../../.github/workflows/x.yaml", `".." is not allowed`},
		{"values under .github", podinfo + " --values .github/workflows/x.yaml", "never writes under .github/"},
		{"values missing", podinfo + " --values nope.yaml", "no such file"},
		{"unbalanced quote", podinfo + " --set 'a=b", "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := bottest.NewFake(nil)
			reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", c.body))
			if len(f.Proposals()) != 0 {
				t.Fatalf("proposed a change for bad input")
			}
			if !strings.Contains(reply, c.want) {
				t.Errorf("reply does not contain %q:\n%s", c.want, reply)
			}
			if c.name != "bad provider" && !strings.Contains(reply, "Usage:") {
				t.Errorf("reply has no usage:\n%s", reply)
			}
		})
	}
}

func TestSeveralEnvironmentsOneBranch(t *testing.T) {
	f := bottest.NewFake(nil)
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", podinfo+" --env production --env staging"))
	ps := f.Proposals()
	if len(ps) != 1 || ps[0].Branch != "gitops-bot/deploy-podinfo-staging-production" || len(ps[0].Files) != 2 {
		t.Fatalf("proposals = %+v", ps)
	}
}

// A misspelled environment is named back with the one meant: from the
// config's list, or, where the config lists none, from the directories the
// repository has.
func TestEnvironmentDidYouMean(t *testing.T) {
	listed := bottest.NewFake(map[string]string{config.Path: "environments:\n- name: production\n  dir: envs/prod\n- name: staging\n  dir: envs/staging\n"})
	if reply := bottest.HandleEvent(t, nil, listed, bottest.Comment(1, "alice", strings.Replace(podinfo, "--env staging", "--env stagign", 1))); !strings.Contains(reply, `Did you mean "staging"?`) {
		t.Errorf("listed: reply = %q", reply)
	}
	dirs := bottest.NewFake(map[string]string{"clusters/staging/.keep": "", "clusters/production/.keep": ""})
	reply := bottest.HandleEvent(t, nil, dirs, bottest.Comment(1, "alice", strings.Replace(podinfo, "--env staging", "--env stagin", 1)))
	if !strings.Contains(reply, `environment "stagin" has no directory (clusters/stagin does not exist). Did you mean "staging"?`) || len(dirs.Proposals()) != 0 {
		t.Errorf("directories: reply = %q, proposals %d", reply, len(dirs.Proposals()))
	}
	// A name near none gets the layout's own answer, with no guess.
	reply = bottest.HandleEvent(t, nil, dirs, bottest.Comment(2, "alice", strings.Replace(podinfo, "--env staging", "--env qa-east", 1)))
	if strings.Contains(reply, "Did you mean") || !strings.Contains(reply, "this repository has no `clusters/qa-east`") {
		t.Errorf("a name near none: reply %q", reply)
	}
}

func TestUnknownEnvironment(t *testing.T) {
	f := bottest.NewFake(map[string]string{config.Path: "environments:\n- name: production\n  dir: envs/prod\n"})
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", podinfo))
	if !strings.Contains(reply, `unknown environment "staging" (this repository has: production)`) {
		t.Errorf("reply = %q", reply)
	}
	bottest.HandleEvent(t, nil, f, bottest.Comment(2, "alice", strings.Replace(podinfo, "staging", "production", 1)))
	ps := f.Proposals()
	if len(ps) != 1 || ps[0].Files[0].Path != "envs/prod/podinfo.yaml" {
		t.Errorf("proposals = %+v", ps)
	}
}

func TestDeployChartReusesHelmRepository(t *testing.T) {
	f := bottest.Fleet(t, "flux", map[string]string{
		"clusters/staging/sources.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: stefanprodan\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: https://stefanprodan.github.io/podinfo/\n",
	})
	bottest.Handle(t, f, podinfo)
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("replies %v", f.Replies())
	}
	content := string(ps[0].Files[0].Content)
	if strings.Contains(content, "apiVersion: source.toolkit.fluxcd.io") || !strings.Contains(content, "name: stefanprodan") {
		t.Errorf("the existing HelmRepository was not reused:\n%s", content)
	}
}

// A repository whose HelmReleases are of an older API gets its new objects
// in that API, field by field; an API the bot does not know gets a reply
// naming it, not objects its cluster may not serve.
func TestDeployRespectsTheRepositorysAPIVersions(t *testing.T) {
	f := bottest.NewFake(map[string]string{"clusters/staging/old.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2beta1\nkind: HelmRelease\nmetadata: {name: old}\nspec: {interval: 5m, chart: {spec: {chart: old, sourceRef: {kind: HelmRepository, name: old}}}}\n"})
	reply := bottest.Handle(t, f, podinfo)
	if len(f.Proposals()) != 1 {
		t.Fatalf("reply %s", reply)
	}
	content := string(f.Proposals()[0].Files[0].Content)
	if !strings.Contains(content, "apiVersion: helm.toolkit.fluxcd.io/v2beta1") {
		t.Errorf("not written in v2beta1:\n%s", content)
	}

	f = bottest.NewFake(map[string]string{"clusters/staging/old.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2alpha1\nkind: HelmRelease\nmetadata: {name: old}\nspec: {interval: 5m}\n"})
	reply = bottest.Handle(t, f, podinfo)
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "are `helm.toolkit.fluxcd.io/v2alpha1`, and I write `helm.toolkit.fluxcd.io/v2`") {
		t.Errorf("proposals %d; reply:\n%s", len(f.Proposals()), reply)
	}
}

// With no provider in the config, what the repository holds decides: an
// Argo CD fleet gets an Application, not Flux objects.
func TestProviderFromWhatTheRepositoryHolds(t *testing.T) {
	f := bottest.Fleet(t, "argocd", nil)
	delete(f.Files, ".gitops-bot.yaml")
	f.Files["clusters/staging/guestbook.yaml"] = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: guestbook, namespace: argocd}\nspec: {project: default, source: {repoURL: https://github.com/acme/fleet, path: guestbook}, destination: {server: https://kubernetes.default.svc, namespace: guestbook}}\n"
	bottest.Handle(t, f, podinfo)
	ps := f.Proposals()
	if len(ps) != 1 || !strings.Contains(string(ps[0].Files[0].Content), "kind: Application") || strings.Contains(string(ps[0].Files[0].Content), "HelmRelease") {
		t.Errorf("proposals %+v; replies %v", ps, f.Replies())
	}
}
