package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

type stubOwners []cluster.Owner

func (s stubOwners) Owners(context.Context, string, string, string) ([]cluster.Owner, error) {
	return s, nil
}

func TestDay2AsksTheCluster(t *testing.T) {
	kust := func(repoURL, path string) cluster.Owner {
		return cluster.Owner{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "web"}, RepoURL: repoURL, Path: path}
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
		// Staging and production on one cluster: each environment's own.
		{"environments sharing a cluster", stubOwners{kust("https://github.com/acme/fleet.git", "apps/overlays/production/web"),
			kust("https://github.com/acme/fleet.git", "apps/overlays/staging/web")}, "Opened"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := bottest.Fleet(t, "flux", nil)
			bottest.Merged(t, f, bottest.Web)
			b := bot.New(bottest.Quiet)
			b.Owners = c.owners
			ev := forge.CommentEvent{Repo: bottest.Repo, Thread: 7, CommentID: 9, Author: "alice", Body: "/scale web 3 --env staging"}
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

// The workload belongs to another repository the bot can reach: the pull
// request goes there, and the reply links it.
func TestDay2InTheOwningRepository(t *testing.T) {
	apps := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, apps, bottest.Web)
	appsRepo := forge.Repo{Host: "github", Owner: "acme", Name: "apps", DefaultBranch: "main", CloneURL: "https://github.com/acme/apps.git"}
	here := bottest.Fleet(t, "flux", nil)
	here.Others = map[string]forgetest.OtherRepo{"https://github.com/acme/apps": {Fake: apps, Repo: appsRepo}}
	b := bot.New(bottest.Quiet)
	b.Owners = stubOwners{{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "web"}, RepoURL: "https://github.com/acme/apps", Path: "apps/overlays/staging/web"}}

	n := len(apps.Proposals())
	ev := forge.CommentEvent{Repo: bottest.Repo, Thread: 7, CommentID: 9, Author: "alice", Body: "/scale web 3 --env staging"}
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
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, bottest.Web)
	b := bot.New(bottest.Quiet)
	b.Owners = failingOwners{&cluster.NotGitOps{Namespace: "web", ManagedBy: "Helm"}}
	ev := forge.CommentEvent{Repo: bottest.Repo, Thread: 7, CommentID: 9, Author: "alice", Body: "/scale web 3 --env staging"}
	b.HandleComment(context.Background(), f, ev)
	if reply := f.Replies()[len(f.Replies())-1].Body; !strings.Contains(reply, "not managed by GitOps in `staging`: it runs in namespace web, managed by Helm") {
		t.Errorf("reply:\n%s", reply)
	}
}
