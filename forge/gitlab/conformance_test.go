package gitlab_test

import (
	"strings"
	"testing"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
	"github.com/gitops-bot/gitops-bot/forge/gitlab/gitlabtest"
)

func TestConformance(t *testing.T) {
	forgetest.Conformance(t, func(t *testing.T) forgetest.Subject {
		s := gitlabtest.New(t, "acme/fleet", "glpat-test", forgetest.ConformanceFiles)
		api, err := gl.NewClient("glpat-test", gl.WithBaseURL(s.BaseURL()))
		if err != nil {
			t.Fatal(err)
		}
		return forgetest.Subject{
			Forge: gitlab.NewClient(api),
			Repo:  forge.Repo{Host: "gitlab", Owner: "acme", Name: "fleet", DefaultBranch: "main"},
			Head:  s.Head,
			Merge: func(pr *forge.PullRequest) string { return s.Merge(int64(pr.Number)) },
			Replies: func(thread int) []string {
				var out []string
				for _, n := range s.Notes() {
					if n.Thread == int64(thread) && !n.MR && strings.Contains(n.Body, "gitops-bot:reply:") {
						out = append(out, n.Body)
					}
				}
				return out
			},
			Comment: func(thread int) int64 { return s.AddNote(int64(thread), false, "alice", "/help") },
		}
	})
}
