package gitstore

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Objects have the SHAs git itself gives them.
func TestObjectsAreGitObjects(t *testing.T) {
	if got := BlobSHA("hello\n"); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("blob SHA %s", got)
	}
	r := New(nil)
	if got := r.WriteTree(map[string]string{}); got != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" {
		t.Errorf("empty tree SHA %s", got)
	}
	// `printf 'hello\n' > a; git add a; git write-tree` in an empty repository.
	if got := r.WriteTree(map[string]string{"a": "hello\n"}); got != "0976950c1fdbcb52435a433913017bf044b3a58f" {
		t.Errorf("tree SHA %s", got)
	}
}

func TestTreesCommitsAndAncestry(t *testing.T) {
	files := map[string]string{"README.md": "x\n", "a/b/c.yaml": "c\n", "a/b.yaml": "b\n", "a.yaml": "a\n"}
	r := New(files)
	main, _ := r.Branch("main")
	if got, ok := r.Files("main"); !ok || !reflect.DeepEqual(got, files) {
		t.Fatalf("files %v", got)
	}
	c1 := r.WriteCommit(r.WriteTree(map[string]string{"README.md": "y\n"}), []string{main}, "one")
	c2 := r.WriteCommit(r.WriteTree(files), []string{main}, "two")
	merge := r.WriteCommit(r.WriteTree(files), []string{c1, c2}, "merge")
	if !r.IsAncestor(main, merge) || !r.IsAncestor(c2, merge) || r.IsAncestor(c1, c2) || !r.IsAncestor(merge, merge) {
		t.Error("ancestry is wrong")
	}
	if base, ok := r.MergeBase(c1, c2); !ok || base != main {
		t.Errorf("merge base %s %v, want %s", base, ok, main)
	}
	if got := r.ChangedFiles(main, c1); !reflect.DeepEqual(got, []string{"README.md", "a.yaml", "a/b.yaml", "a/b/c.yaml"}) {
		t.Errorf("changed files %v", got)
	}
	c, ok := r.Commit(merge)
	if !ok || c.Message != "merge" || !reflect.DeepEqual(c.Parents, []string{c1, c2}) {
		t.Errorf("commit %+v", c)
	}
	if _, ok := r.Commit("not a sha"); ok {
		t.Error("read a commit that is not one")
	}
}

// Entries are ordered as git orders them: a directory as if named "d/".
func TestTreeOrder(t *testing.T) {
	r := New(nil)
	// `git write-tree` of a: "hello\n", d/e: "x\n", d.txt: "y\n".
	got := r.WriteTree(map[string]string{"a": "hello\n", "d/e": "x\n", "d.txt": "y\n"})
	if got != "86564cdfddf15f0d3e697d3382ccbf06eba2ae51" {
		t.Errorf("tree SHA %s", got)
	}
}

// A repository on disk is served to git itself: a clone has the same
// commit and files as the REST side.
func TestServedOverGitHTTP(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r, err := NewAt(filepath.Join(t.TempDir(), "fleet.git"), map[string]string{"a/b.yaml": "b\n", "README.md": "x\n"})
	if err != nil {
		t.Fatal(err)
	}
	main, _ := r.Branch("main")
	next := r.WriteCommit(r.WriteTree(map[string]string{"a/b.yaml": "c\n", "README.md": "x\n"}), []string{main}, "next")
	r.SetBranch("main", next)
	h, err := r.Handler("/acme/fleet.git")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "clone")
	out, err := exec.Command("git", "clone", "--quiet", "--depth", "1", srv.URL+"/acme/fleet.git", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	head, _ := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if strings.TrimSpace(string(head)) != next {
		t.Errorf("cloned HEAD %s, want %s", head, next)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a/b.yaml")); string(b) != "c\n" {
		t.Errorf("cloned file %q", b)
	}
	if out, err := exec.Command("git", "-C", dir, "push", "origin", "HEAD:refs/heads/x").CombinedOutput(); err == nil {
		t.Errorf("a push was accepted: %s", out)
	}
}

// Updating a tree gives the tree that writing it whole gives.
func TestUpdateTreeMatchesWriteTree(t *testing.T) {
	r := New(nil)
	files := map[string]string{"a/b/c.yaml": "c\n", "a/d.yaml": "d\n", "e.yaml": "e\n", "f/g.yaml": "g\n"}
	base := r.WriteTree(files)
	c2, gone := "c2\n", (*string)(nil)
	n := "new\n"
	got, err := r.UpdateTree(base, map[string]*string{"a/b/c.yaml": &c2, "f/g.yaml": gone, "x/y/z.yaml": &n})
	if err != nil {
		t.Fatal(err)
	}
	want := r.WriteTree(map[string]string{"a/b/c.yaml": "c2\n", "a/d.yaml": "d\n", "e.yaml": "e\n", "x/y/z.yaml": "new\n"})
	if got != want {
		t.Errorf("updated tree %s, want %s", got, want)
	}
	if got, _ := r.UpdateTree(base, nil); got != base {
		t.Errorf("no change gave %s, want %s", got, base)
	}
}
