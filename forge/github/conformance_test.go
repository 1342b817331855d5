package github_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

func TestConformance(t *testing.T) {
	forgetest.Conformance(t, func(t *testing.T) forgetest.Subject {
		s := githubtest.New(t, "acme", "fleet", forgetest.ConformanceFiles)
		return forgetest.Subject{
			Forge: clientFor(t, s),
			Repo:  forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main"},
			Head:  s.Head,
			Merge: func(pr *forge.PullRequest) string { return s.Merge(pr.Number) },
			Replies: func(thread int) []string {
				var out []string
				for _, c := range s.Comments(thread) {
					if strings.Contains(c.Body, "gitops-bot:reply:") {
						out = append(out, c.Body)
					}
				}
				return out
			},
			Comment: func(thread int) int64 { return s.AddComment(thread, "alice", "/help") },
		}
	})
}
