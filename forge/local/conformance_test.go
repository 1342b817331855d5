package local

import (
	"testing"
	"testing/fstest"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

func TestConformance(t *testing.T) {
	forgetest.Conformance(t, func(t *testing.T) forgetest.Subject {
		dir := t.TempDir()
		files := fstest.MapFS{}
		for p, c := range forgetest.ConformanceFiles {
			files[p] = &fstest.MapFile{Data: []byte(c)}
		}
		if err := Init(dir, files, "https://github.com/acme/fleet"); err != nil {
			t.Fatal(err)
		}
		f, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		repo, err := f.Repo("fleet")
		if err != nil {
			t.Fatal(err)
		}
		return forgetest.Subject{
			Forge: f, Repo: repo,
			Head: func(branch string) string {
				ref, err := f.repo.Reference(plumbing.NewBranchReferenceName(branch), true)
				if err != nil {
					return ""
				}
				return ref.Hash().String()
			},
			Replies: func(thread int) []string {
				var out []string
				for _, r := range f.Replies() {
					if r.Thread == thread {
						out = append(out, r.Body)
					}
				}
				return out
			},
			Comment: func(int) int64 { return 1 },
		}
	})
}
