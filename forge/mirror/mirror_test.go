package mirror

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/forgetest/gitstore"
)

// served is a repository on a git server on localhost that wants token.
type served struct {
	git     *gitstore.Repo
	count   *gitstore.Counter
	remote  Remote
	cleanup func()
}

func serve(t *testing.T, name string, files map[string]string) *served {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo, err := gitstore.NewAt(filepath.Join(t.TempDir(), name+".git"), files)
	if err != nil {
		t.Fatal(err)
	}
	h, err := repo.Handler("/acme/" + name + ".git")
	if err != nil {
		t.Fatal(err)
	}
	c := &gitstore.Counter{}
	srv := httptest.NewServer(gitstore.Guard(h, "s3cret", c))
	t.Cleanup(srv.Close)
	return &served{git: repo, count: c, remote: Remote{URL: srv.URL + "/acme/" + name + ".git", Username: "x-access-token", Password: "s3cret"}}
}

func (s *served) commit(t *testing.T, files map[string]string) string {
	t.Helper()
	head, _ := s.git.Branch("main")
	sha := s.git.WriteCommit(s.git.WriteTree(files), []string{head}, "change")
	s.git.SetBranch("main", sha)
	return sha
}

func TestSyncReadsAndFetchesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"README.md": "fleet\n", "clusters/staging/a.yaml": "a: 1\n", "clusters/prod/b.yaml": "b: 1\n"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		files[fmt.Sprintf("apps/app-%d/deployment.yaml", i)] = fmt.Sprintf("name: app-%d\nchecksum: %x\n", i, rnd.Uint64())
	}
	s := serve(t, "fleet", files)
	store, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Sync(ctx, "github/acme/fleet", s.remote, "main")
	if err != nil {
		t.Fatal(err)
	}
	first := s.count.Bytes()
	head, _ := s.git.Branch("main")
	if r.Head() != head {
		t.Errorf("head %s, want %s", r.Head(), head)
	}
	if b, err := r.ReadFile(ctx, "main", "clusters/staging/a.yaml"); err != nil || string(b) != "a: 1\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := r.ReadFile(ctx, "main", "nope.yaml"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	if got, _ := r.ListFiles(ctx, "main", "clusters"); len(got) != 2 || got[0] != "clusters/prod/b.yaml" {
		t.Errorf("ListFiles = %v", got)
	}
	if got, _ := r.ListFiles(ctx, "main", "nope"); len(got) != 0 {
		t.Errorf("ListFiles of a missing directory = %v", got)
	}
	before, err := r.Entries(ctx, "main", "")
	if err != nil || len(before) != len(files) {
		t.Fatalf("Entries = %d files, %v; want %d", len(before), err, len(files))
	}
	r.Close()

	// A merge changes one file: the next sync costs a small part of the first.
	files["clusters/staging/a.yaml"] = "a: 2\n"
	parent := head
	next := s.commit(t, files)
	s.count.Reset()
	r, err = store.Sync(ctx, "github/acme/fleet", s.remote, "main")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Head() != next {
		t.Errorf("head %s, want %s", r.Head(), next)
	}
	if b, _ := r.ReadFile(ctx, "main", "clusters/staging/a.yaml"); string(b) != "a: 2\n" {
		t.Errorf("after the merge: %q", b)
	}
	// Listings are kept by tree: the changed file's blob is new, every
	// other one the same, at the root and under a directory alike.
	after, _ := r.Entries(ctx, "main", "")
	under, _ := r.Entries(ctx, "main", "clusters/staging")
	if len(after) != len(before) || len(under) != 1 || under[0].Path != "clusters/staging/a.yaml" {
		t.Fatalf("after the merge: %d files, under clusters/staging %v", len(after), under)
	}
	for i := range after {
		changed := after[i].Path == "clusters/staging/a.yaml"
		if after[i].Path != before[i].Path || (after[i].Blob != before[i].Blob) != changed {
			t.Errorf("%s: blob %s, before %s", after[i].Path, after[i].Blob, before[i].Blob)
		}
		if changed && under[0].Blob != after[i].Blob {
			t.Errorf("the directory's listing disagrees with the root's: %s, %s", under[0].Blob, after[i].Blob)
		}
	}
	if s.count.Bytes()*10 > first {
		t.Errorf("the second sync fetched %d bytes, the first %d: want under 10%%", s.count.Bytes(), first)
	}
	// The parent is not in the shallow mirror: it is fetched by its SHA.
	if b, err := r.ReadFile(ctx, parent, "clusters/staging/a.yaml"); err != nil || string(b) != "a: 1\n" {
		t.Errorf("at the parent: %q, %v", b, err)
	}
	// A commit the host does not have: the reader falls back to the API.
	missing := "0123456789012345678901234567890123456789"
	if _, err := r.ReadFile(ctx, missing, "README.md"); !errors.Is(err, ErrNotMirrored) {
		t.Errorf("unknown commit: %v", err)
	}
	api := forgetest.New(map[string]string{"README.md": "from the API\n"})
	var why error
	rd := Reader{Repo: r, Fallback: api, OnFallback: func(_ context.Context, err error) { why = err }}
	if b, err := rd.ReadFile(ctx, forge.Repo{}, missing, "README.md"); err != nil || string(b) != "from the API\n" || why == nil {
		t.Errorf("fallback read %q, %v (why %v)", b, err, why)
	}
	if b, err := rd.ReadFile(ctx, forge.Repo{}, "main", "README.md"); err != nil || string(b) != "fleet\n" {
		t.Errorf("mirror read %q, %v", b, err)
	}
}

func TestWrongTokenIsRefused(t *testing.T) {
	s := serve(t, "fleet", map[string]string{"a": "b"})
	store, _ := New(t.TempDir(), Options{})
	remote := s.remote
	remote.Password = "wrong"
	if _, err := store.Sync(context.Background(), "github/acme/fleet", remote, "main"); err == nil {
		t.Fatal("a wrong token fetched the repository")
	}
	if _, err := store.Sync(context.Background(), "github/acme/fleet", s.remote, "main"); err != nil {
		t.Fatalf("the right token after a wrong one: %v", err)
	}
}

// The store stays within its bound by removing the mirrors not used for
// longest, never one in use; mirrors on disk are adopted after a restart.
func TestEvictionAndAdoption(t *testing.T) {
	ctx := context.Background()
	big := map[string]string{}
	for i := 0; i < 50; i++ {
		big[filepath.Join("d", string(rune('a'+i%26))+string(rune('a'+i/26))+".yaml")] = string(make([]byte, 2000)) + string(rune(i))
	}
	a, b := serve(t, "a", big), serve(t, "b", big)
	dir := t.TempDir()
	store, _ := New(dir, Options{})
	ra, err := store.Sync(ctx, "github/acme/a", a.remote, "main")
	if err != nil {
		t.Fatal(err)
	}
	ra.Close()
	one := store.Size()
	if one == 0 {
		t.Fatal("the mirror has no size")
	}

	// Restart with a bound of about one mirror: a is adopted, then evicted
	// when b arrives.
	store, _ = New(dir, Options{MaxBytes: one + one/2})
	if store.Size() != one {
		t.Errorf("adopted size %d, want %d", store.Size(), one)
	}
	rb, err := store.Sync(ctx, "github/acme/b", b.remote, "main")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || store.Size() > one+one/2 {
		t.Errorf("after eviction: %d mirrors, %d bytes", len(entries), store.Size())
	}
	// b is in use: syncing a again evicts nothing it is reading.
	ra, err = store.Sync(ctx, "github/acme/a", a.remote, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rb.ReadFile(ctx, "main", "d/aa.yaml"); err != nil {
		t.Errorf("a mirror in use was evicted: %v", err)
	}
	rb.Close()
	ra.Close()
	if !store.Has("github/acme/a") {
		t.Error("the mirror just used is gone")
	}
}

// A file over forge.MaxFileBytes is refused by its size, not read whole.
func TestHugeFileIsRefusedUnread(t *testing.T) {
	ctx := context.Background()
	huge := strings.Repeat("x: 1\n", forge.MaxFileBytes/5+1)
	s := serve(t, "fleet", map[string]string{"clusters/staging/huge.yaml": huge, "clusters/staging/a.yaml": "a: 1\n"})
	store, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Sync(ctx, "github/acme/fleet", s.remote, "main")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.ReadFile(ctx, "main", "clusters/staging/huge.yaml")
	var big *forge.TooLarge
	if !errors.As(err, &big) || big.Size != int64(len(huge)) || !strings.Contains(err.Error(), "clusters/staging/huge.yaml") {
		t.Errorf("err = %v", err)
	}
	if b, err := r.ReadFile(ctx, "main", "clusters/staging/a.yaml"); err != nil || string(b) != "a: 1\n" {
		t.Errorf("a small file: %q %v", b, err)
	}
}
