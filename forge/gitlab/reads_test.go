package gitlab_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
	"github.com/gitops-bot/gitops-bot/forge/mirror"
)

// When the mirror cannot be fetched (here: no token for git), a /deploy
// reads through the API, each tree and file once, and a file's size comes
// from the response that carries it, not from a call of its own.
func TestDeployThroughTheAPIReadsEachThingOnce(t *testing.T) {
	// The config, and a HelmRepository to reuse, cost a read each.
	deployReads(t, map[string]string{".gitops-bot.yaml": "labels: []\n"}, 7)
	deployReads(t, map[string]string{
		".gitops-bot.yaml":                   "labels: []\n",
		"clusters/staging/podinfo-repo.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: https://stefanprodan.github.io/podinfo\n",
	}, 8)
}

func deployReads(t *testing.T, files map[string]string, most int) {
	t.Helper()
	s, api := fakeProject(t, files)
	store, err := mirror.New(t.TempDir(), mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := bot.New(quiet)
	b.Snapshots = snapshot.Source{Mirrors: store}
	w := webhook(t, b, api)
	noteID := s.AddNote(1, true, "root", podinfo)
	s.Reset()
	deliver(w, "Note Hook", secret, "d1", payload(t, "note_merge_request.json", map[string]any{"object_attributes.note": podinfo, "object_attributes.id": noteID}))
	waitFor(t, "the reply", func() bool { return len(s.Notes()) == 2 })
	if !strings.Contains(s.Notes()[1].Body, "Opened !1") {
		t.Fatalf("reply %q", s.Notes()[1].Body)
	}
	seen := map[string]int{}
	var calls []string
	for _, r := range s.Requests() {
		calls = append(calls, r.Key()+"?"+r.Query)
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			seen[r.Key()+"?"+r.Query]++
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s %d times", k, n)
		}
	}
	if len(calls) > most {
		t.Errorf("%d GitLab calls for one /deploy through the API, want at most %d:\n%s", len(calls), most, strings.Join(calls, "\n"))
	}
}

// A file over the cap is refused by its size, read no further.
func TestFileOverTheCapIsRefused(t *testing.T) {
	_, api := fakeProject(t, map[string]string{"big.yaml": strings.Repeat("x: 1\n", forge.MaxFileBytes/5+1)})
	c := gitlab.NewClient(api)
	repo := forge.Repo{Host: "gitlab", Owner: "gitlab-org", Name: "gitlab-test", DefaultBranch: "master"}
	for _, rd := range []forge.Reader{c, c.PathReader()} {
		_, err := rd.ReadFile(t.Context(), repo, "master", "big.yaml")
		var big *forge.TooLarge
		if !errors.As(err, &big) || big.Size <= forge.MaxFileBytes {
			t.Errorf("%T: err = %v, want TooLarge", rd, err)
		}
	}
}
