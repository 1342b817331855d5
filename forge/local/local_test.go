package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-bot/gitops-bot/forge"
)

func newRepo(t *testing.T) (*Forge, forge.Repo, string) {
	t.Helper()
	dir := t.TempDir()
	err := Init(dir, fstest.MapFS{
		"README.md":                 {Data: []byte("fleet\n")},
		"clusters/staging/a.yaml":   {Data: []byte("a: 1\n")},
		"clusters/staging/b/c.yaml": {Data: []byte("c: 1\n")},
	}, "https://github.com/acme/fleet")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Repo("fleet")
	if err != nil {
		t.Fatal(err)
	}
	return f, r, dir
}

func TestReadAndList(t *testing.T) {
	f, r, _ := newRepo(t)
	ctx := context.Background()
	if r.DefaultBranch != "main" || r.CloneURL != "https://github.com/acme/fleet" {
		t.Errorf("default branch %q", r.DefaultBranch)
	}
	b, err := f.ReadFile(ctx, r, "main", "clusters/staging/a.yaml")
	if err != nil || string(b) != "a: 1\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := f.ReadFile(ctx, r, "main", "nope"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	got, err := f.ListFiles(ctx, r, "main", "clusters/staging")
	if err != nil || strings.Join(got, ",") != "clusters/staging/a.yaml,clusters/staging/b/c.yaml" {
		t.Errorf("ListFiles = %v, %v", got, err)
	}
}

func TestProposeWritesOneCommitOnABranch(t *testing.T) {
	f, r, dir := newRepo(t)
	ctx := context.Background()
	change := forge.Change{Branch: "gitops-bot/x", Base: "main", Message: "m", Files: []forge.File{
		{Path: "clusters/staging/a.yaml", Content: []byte("a: 2\n")},
		{Path: "clusters/staging/b/c.yaml", Delete: true},
		{Path: "clusters/production/new/deep.yaml", Content: []byte("n: 1\n")},
	}}
	pr, err := f.Propose(ctx, r, change)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Created || !strings.Contains(pr.Diff, "+a: 2") || !strings.Contains(pr.Diff, "-c: 1") {
		t.Errorf("pr = %+v", pr)
	}
	got, _ := f.ListFiles(ctx, r, "gitops-bot/x", "")
	if strings.Join(got, ",") != "README.md,clusters/production/new/deep.yaml,clusters/staging/a.yaml" {
		t.Errorf("branch files = %v", got)
	}
	// The checked-out branch and the work tree are untouched.
	if b, _ := f.ReadFile(ctx, r, "main", "clusters/staging/a.yaml"); string(b) != "a: 1\n" {
		t.Errorf("main changed: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "clusters/staging/a.yaml")); string(b) != "a: 1\n" {
		t.Errorf("work tree changed: %q", b)
	}
	// One commit whose parent is main's head.
	c, _ := f.commit("gitops-bot/x")
	main, _ := f.commit("main")
	if len(c.ParentHashes) != 1 || c.ParentHashes[0] != main.Hash {
		t.Errorf("parents %v, want [%v]", c.ParentHashes, main.Hash)
	}
	// git itself agrees the repository is sound, where git is installed.
	if gitBin, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command(gitBin, "-C", dir, "fsck", "--strict").CombinedOutput()
		if err != nil {
			t.Errorf("git fsck: %v\n%s", err, out)
		}
	}

	// Again: the branch moves to a new single commit on main, not on top of the old one.
	change.Files = change.Files[:1]
	pr2, err := f.Propose(ctx, r, change)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := f.commit("gitops-bot/x")
	if pr2.Created || c2.ParentHashes[0] != main.Hash || c2.Hash == c.Hash {
		t.Errorf("second proposal: created=%v parent=%v", pr2.Created, c2.ParentHashes)
	}
}

func TestProposeRefusesUnsafeChanges(t *testing.T) {
	f, r, _ := newRepo(t)
	ctx := context.Background()
	for _, c := range []forge.Change{
		{Branch: "x", Base: "main", Files: []forge.File{{Path: "../escape.yaml"}}},
		{Branch: "x", Base: "main", Files: []forge.File{{Path: ".github/workflows/ci.yml"}}},
		{Branch: "main", Base: "main", Files: []forge.File{{Path: "a.yaml"}}},
		{Branch: "x", Base: "main", Files: []forge.File{{Path: "README.md/inside"}}},
	} {
		if _, err := f.Propose(ctx, r, c); err == nil {
			t.Errorf("Propose(%+v) accepted", c.Files)
		}
	}
	if _, err := f.repo.Reference(plumbing.NewBranchReferenceName("x"), false); err == nil {
		t.Error("a refused change left a branch behind")
	}
}
