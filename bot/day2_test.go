package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// merged runs a command on the fleet and merges its proposal into the fake's files.
func merged(t *testing.T, f *forgetest.Fake, cmd string) {
	t.Helper()
	before := len(f.Proposals())
	handleOn(t, f, cmd)
	ps := f.Proposals()
	if len(ps) != before+1 {
		t.Fatalf("%s proposed nothing: %v", cmd, f.Replies()[len(f.Replies())-1].Body)
	}
	for _, file := range ps[len(ps)-1].Files {
		f.Files[file.Path] = string(file.Content)
	}
}

// lastChange returns the files of the last proposal, and fails when the
// command proposed nothing.
func lastChange(t *testing.T, f *forgetest.Fake, before int) map[string]string {
	t.Helper()
	ps := f.Proposals()
	if len(ps) != before+1 {
		t.Fatalf("no proposal; reply:\n%s", f.Replies()[len(f.Replies())-1].Body)
	}
	out := map[string]string{}
	for _, file := range ps[len(ps)-1].Files {
		out[file.Path] = string(file.Content)
	}
	return out
}

// onlyLinesChanged checks that new differs from old in exactly the given
// line replacements, byte for byte everywhere else.
func onlyLinesChanged(t *testing.T, old, new string, repl ...string) {
	t.Helper()
	want := old
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(want, repl[i]) {
			t.Fatalf("%q not in the old file:\n%s", repl[i], old)
		}
		want = strings.Replace(want, repl[i], repl[i+1], 1)
	}
	if new != want {
		t.Errorf("edit changed more than it should:\n got:\n%s\nwant:\n%s", new, want)
	}
}

func TestDay2OnKustomizeOverlays(t *testing.T) {
	f := fleet(t, "flux", nil)
	merged(t, f, web)
	overlay := "apps/overlays/staging/web/kustomization.yaml"

	n := len(f.Proposals())
	handleOn(t, f, "/set-image web ghcr.io/acme/web:1.4.3 --env staging")
	got := lastChange(t, f, n)
	onlyLinesChanged(t, f.Files[overlay], got[overlay], "newTag: 1.4.2", "newTag: 1.4.3")
	if f.Proposals()[n].Branch != "gitops-bot/set-image-web-staging" {
		t.Errorf("branch %s", f.Proposals()[n].Branch)
	}

	n = len(f.Proposals())
	handleOn(t, f, "/scale web 4 --env production")
	prod := "apps/overlays/production/web/kustomization.yaml"
	onlyLinesChanged(t, f.Files[prod], lastChange(t, f, n)[prod], "count: 2", "count: 4")

	n = len(f.Proposals())
	reply := handleOn(t, f, "/resources web --memory 512Mi --cpu 250m --env production")
	base := "apps/base/web/deployment.yaml"
	onlyLinesChanged(t, f.Files[base], lastChange(t, f, n)[base],
		"memory: 256Mi", "memory: 512Mi", "cpu: 100m", "cpu: 250m", "memory: 128Mi", "memory: 512Mi")
	if !strings.Contains(reply, "Opened") {
		t.Errorf("reply %s", reply)
	}
}

func TestPromote(t *testing.T) {
	f := fleet(t, "flux", nil)
	merged(t, f, web)
	merged(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	n := len(f.Proposals())
	handleOn(t, f, "/promote web --from staging --to production")
	prod := "apps/overlays/production/web/kustomization.yaml"
	onlyLinesChanged(t, f.Files[prod], lastChange(t, f, n)[prod], "newTag: 1.4.2", "newTag: 1.5.0")
	if body := f.Proposals()[n].Body; !strings.Contains(body, "image ghcr.io/acme/web: `1.4.2` → `1.5.0`") {
		t.Errorf("body lacks the versions:\n%s", body)
	}
	merged(t, f, "/promote web --from staging --to production")
	reply := handleOn(t, f, "/promote web --from staging --to production")
	if !strings.Contains(reply, "nothing to promote") {
		t.Errorf("reply %s", reply)
	}
}

func TestDay2OnHelmReleaseValues(t *testing.T) {
	f := fleet(t, "flux", nil)
	merged(t, f, podinfo) // HelmRelease podinfo with values {replicaCount: 2}
	file := "clusters/staging/podinfo.yaml"
	n := len(f.Proposals())
	handleOn(t, f, "/scale podinfo 3 --env staging")
	onlyLinesChanged(t, f.Files[file], lastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 3")

	n = len(f.Proposals())
	handleOn(t, f, "/set-image podinfo ghcr.io/stefanprodan/podinfo:6.7.1 --env staging")
	onlyLinesChanged(t, f.Files[file], lastChange(t, f, n)[file], "    replicaCount: 2\n", "    replicaCount: 2\n    image:\n      tag: 6.7.1\n")

	merged(t, f, strings.Replace(podinfo, "staging", "production", 1)+" --version 6.8.0")
}

func TestDay2OnArgoApplicationAndPlainDeployment(t *testing.T) {
	f := fleet(t, "argocd", map[string]string{
		"clusters/production/api.yaml": "# The API, hand-written.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3 # keep >= 3\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n        - name: api\n          image: \"ghcr.io/acme/api:2.0.0\" # pinned\n",
	})
	merged(t, f, podinfo) // an Application podinfo-staging with valuesObject
	file := "clusters/staging/podinfo.yaml"
	n := len(f.Proposals())
	handleOn(t, f, "/scale podinfo 5 --env staging")
	onlyLinesChanged(t, f.Files[file], lastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 5")

	api := "clusters/production/api.yaml"
	n = len(f.Proposals())
	handleOn(t, f, "/set-image api ghcr.io/acme/api:2.1.0 --env production")
	onlyLinesChanged(t, f.Files[api], lastChange(t, f, n)[api], `"ghcr.io/acme/api:2.0.0" # pinned`, `"ghcr.io/acme/api:2.1.0" # pinned`)
}

func TestDay2Rejects(t *testing.T) {
	both := "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\nspec: {interval: 5m, chartRef: {kind: OCIRepository, name: web}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {project: default, source: {repoURL: x, chart: web, targetRevision: 1.0.0}, destination: {namespace: web}}\n"
	for _, c := range []struct{ name, files, cmd, want string }{
		{"not found", "", "/scale nope 2 --env staging", "no workload `nope` in environment `staging`"},
		{"both", both, "/scale web 2 --env staging", "managed by both Argo CD and Flux"},
		{"bad image", "", "/set-image web nginx --env staging", "pin a tag"},
		{"bad quantity", "", "/resources web --memory lots --env staging", "not a positive quantity"},
		{"no quantity", "", "/resources web --env staging", "give --cpu, --memory or both"},
		{"no env", "", "/scale web 2", "--env is required"},
		{"bad replicas", "", "/scale web many --env staging", "want a number"},
		{"promote same", "", "/promote web --from staging --to staging", "must differ"},
	} {
		t.Run(c.name, func(t *testing.T) {
			extra := map[string]string{}
			if c.files != "" {
				extra["clusters/staging/web.yaml"] = c.files
			}
			f := fleet(t, "flux", extra)
			reply := handleOn(t, f, c.cmd)
			if len(f.Proposals()) != 0 || !strings.Contains(reply, c.want) {
				t.Errorf("proposals %d; reply:\n%s", len(f.Proposals()), reply)
			}
		})
	}
}

func TestPlanOfDay2(t *testing.T) {
	f := fleet(t, "flux", nil)
	merged(t, f, web)
	n := len(f.Proposals())
	reply := handleOn(t, f, "/plan /scale web 3 --env staging")
	if len(f.Proposals()) != n || !strings.Contains(reply, "-- count: 2") || !strings.Contains(reply, "+- count: 3") {
		t.Errorf("plan:\n%s", reply)
	}
}

type stubOwners []cluster.Owner

func (s stubOwners) Owners(context.Context, string, string, string) ([]cluster.Owner, error) {
	return s, nil
}

func TestDay2AsksTheCluster(t *testing.T) {
	kust := func(repo, path string) cluster.Owner {
		return cluster.Owner{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "web"}, RepoURL: repo, Path: path}
	}
	app := cluster.Owner{Ref: providers.Ref{Kind: "Application", Namespace: "argocd", Name: "web"}, RepoURL: "https://github.com/acme/fleet", Path: "apps/overlays/staging/web"}
	for _, c := range []struct {
		name   string
		owners stubOwners
		want   string
	}{
		{"another repository", stubOwners{kust("https://github.com/acme/other.git", "apps/web")}, "from `https://github.com/acme/other.git`, not from this repository"},
		{"both tools", stubOwners{kust("https://github.com/acme/fleet", "apps/overlays/staging/web"), app}, "managed by both Argo CD and Flux"},
		{"several", stubOwners{kust("https://github.com/acme/fleet", "a"), kust("https://github.com/acme/fleet", "b")}, "applied by several objects"},
		{"this repository", stubOwners{kust("https://github.com/acme/fleet.git", "apps/overlays/staging/web")}, "Opened"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := fleet(t, "flux", nil)
			merged(t, f, web)
			b := New(quiet)
			b.Owners = c.owners
			ev := forge.CommentEvent{Repo: fleetRepo, Thread: 7, CommentID: 9, Author: "alice", Body: "/scale web 3 --env staging"}
			if err := b.HandleComment(context.Background(), f, ev); err != nil {
				t.Fatal(err)
			}
			rs := f.Replies()
			if reply := rs[len(rs)-1].Body; !strings.Contains(reply, c.want) {
				t.Errorf("reply:\n%s", reply)
			}
		})
	}
}

func TestRollback(t *testing.T) {
	f := fleet(t, "flux", nil)
	merged(t, f, web)
	before := map[string]string{}
	for k, v := range f.Files {
		before[k] = v
	}
	merged(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	overlay := "apps/overlays/staging/web/kustomization.yaml"
	const mergeSHA, parentSHA = "2222222222222222222222222222222222222222", "1111111111111111111111111111111111111111"
	atMerge := map[string]string{}
	for k, v := range f.Files {
		atMerge[k] = v
	}
	f.Revisions = map[string]map[string]string{parentSHA: before, mergeSHA: atMerge}
	f.Parents = map[string]string{mergeSHA: parentSHA}
	body := f.Proposals()[len(f.Proposals())-1].Body
	f.Pulls = map[int]forge.PullInfo{101: {Number: 101, Merged: true, MergeSHA: mergeSHA, Base: "main", Body: body}, 102: {Number: 102}}
	f.ChangedFiles = map[int][]string{101: {overlay}}

	n := len(f.Proposals())
	handleOn(t, f, "/rollback 101")
	got := lastChange(t, f, n)
	if got[overlay] != before[overlay] {
		t.Errorf("rollback content:\n%s\nwant:\n%s", got[overlay], before[overlay])
	}
	if p := f.Proposals()[n]; p.Branch != "gitops-bot/rollback-101-staging" || !strings.Contains(p.Title, "Roll back #101") {
		t.Errorf("proposal %s %q", p.Branch, p.Title)
	}

	// A later change to the same file: no revert that would undo it.
	f.Files[overlay] = strings.Replace(f.Files[overlay], "1.5.0", "1.6.0", 1)
	n = len(f.Proposals())
	reply := handleOn(t, f, "/rollback 101")
	if len(f.Proposals()) != n || !strings.Contains(reply, "changed after its merge") || !strings.Contains(reply, overlay) {
		t.Errorf("reply:\n%s", reply)
	}
	for cmd, want := range map[string]string{"/rollback 102": "is not merged", "/rollback 7x": "not a pull request number", "/rollback": "say which pull request", "/rollback 999": "no pull request #999"} {
		if reply := handleOn(t, f, cmd); !strings.Contains(reply, want) {
			t.Errorf("%s: %s", cmd, reply)
		}
	}
}

// The workload belongs to another repository the bot can reach: the pull
// request goes there, and the reply links it.
func TestDay2InTheOwningRepository(t *testing.T) {
	apps := fleet(t, "flux", nil)
	merged(t, apps, web)
	appsRepo := forge.Repo{Host: "github", Owner: "acme", Name: "apps", DefaultBranch: "main", CloneURL: "https://github.com/acme/apps.git"}
	here := fleet(t, "flux", nil)
	here.Others = map[string]forgetest.OtherRepo{"https://github.com/acme/apps": {Fake: apps, Repo: appsRepo}}
	b := New(quiet)
	b.Owners = stubOwners{{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "web"}, RepoURL: "https://github.com/acme/apps", Path: "apps/overlays/staging/web"}}

	n := len(apps.Proposals())
	ev := forge.CommentEvent{Repo: fleetRepo, Thread: 7, CommentID: 9, Author: "alice", Body: "/scale web 3 --env staging"}
	if err := b.HandleComment(context.Background(), here, ev); err != nil {
		t.Fatal(err)
	}
	reply := here.Replies()[len(here.Replies())-1].Body
	if len(here.Proposals()) != 0 || len(apps.Proposals()) != n+1 || !strings.Contains(reply, "applied from `acme/apps`") || !strings.Contains(reply, "acme/apps#") {
		t.Errorf("proposals here %d there %d; reply:\n%s", len(here.Proposals()), len(apps.Proposals())-n, reply)
	}

	// Write access here is not write access there.
	apps.Permissions["alice"] = forge.PermRead
	ev.CommentID = 10
	b.HandleComment(context.Background(), here, ev)
	if reply := here.Replies()[len(here.Replies())-1].Body; !strings.Contains(reply, "sorry @alice, there commands here need write access") {
		t.Errorf("reply:\n%s", reply)
	}
}

type failingOwners struct{ err error }

func (f failingOwners) Owners(context.Context, string, string, string) ([]cluster.Owner, error) {
	return nil, f.err
}

func TestDay2NotManagedByGitOps(t *testing.T) {
	f := fleet(t, "flux", nil)
	merged(t, f, web)
	b := New(quiet)
	b.Owners = failingOwners{&cluster.NotGitOps{Namespace: "web", ManagedBy: "Helm"}}
	ev := forge.CommentEvent{Repo: fleetRepo, Thread: 7, CommentID: 9, Author: "alice", Body: "/scale web 3 --env staging"}
	b.HandleComment(context.Background(), f, ev)
	if reply := f.Replies()[len(f.Replies())-1].Body; !strings.Contains(reply, "not managed by GitOps in `staging`: it runs in namespace web, managed by Helm") {
		t.Errorf("reply:\n%s", reply)
	}
}
