package snapshot

import (
	"context"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/forgetest/gitstore"
)

// counting is a reader that counts its calls and knows blob SHAs.
type counting struct {
	*forgetest.Fake
	reads, lists int
}

func (c *counting) ReadFile(ctx context.Context, r forge.Repo, ref, p string) ([]byte, error) {
	c.reads++
	return c.Fake.ReadFile(ctx, r, ref, p)
}

func (c *counting) ListFiles(ctx context.Context, r forge.Repo, ref, dir string) ([]string, error) {
	c.lists++
	return c.Fake.ListFiles(ctx, r, ref, dir)
}

func (c *counting) ListEntries(ctx context.Context, r forge.Repo, ref, dir string) ([]forge.Entry, error) {
	files, _ := c.Fake.ListFiles(ctx, r, ref, dir)
	var out []forge.Entry
	for _, f := range files {
		out = append(out, forge.Entry{Path: f, Blob: gitstore.BlobSHA(c.Files[f])})
	}
	return out, nil
}

const release = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  releaseName: web-prod
  values:
    image: ghcr.io/acme/web:1.0
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts}
spec: {url: https://charts.example.com}
`

// Objects are read once per content: the same file in another snapshot
// (another command, another repository) is served from the index.
func TestObjectsAreIndexedByContent(t *testing.T) {
	ctx := context.Background()
	f := &counting{Fake: forgetest.New(map[string]string{"clusters/prod/web.yaml": release, "clusters/prod/broken.yaml": "a: [\n"})}
	s := New(f, forge.Repo{}, "main")
	objs, err := s.Objects(ctx, "clusters/prod/web.yaml")
	if err != nil || len(objs) != 2 {
		t.Fatalf("objects %+v, %v", objs, err)
	}
	if o := objs[0]; o.Kind != "HelmRelease" || o.Name != "web" || o.Namespace != "apps" || o.ReleaseName != "web-prod" || len(o.Images) != 1 || o.Images[0] != "ghcr.io/acme/web:1.0" {
		t.Errorf("HelmRelease %+v", o)
	}
	if o := objs[1]; o.Doc != 1 || o.URL != "https://charts.example.com" {
		t.Errorf("HelmRepository %+v", o)
	}
	if objs, err := s.Objects(ctx, "clusters/prod/broken.yaml"); err != nil || len(objs) != 0 {
		t.Errorf("a broken file: %+v, %v", objs, err)
	}
	reads := f.reads
	if _, err := New(f, forge.Repo{}, "main").Objects(ctx, "clusters/prod/web.yaml"); err != nil || f.reads != reads {
		t.Errorf("the same content was read again (%d reads, %d before)", f.reads, reads)
	}
	ref, err := s.FluxSource(ctx, "clusters/prod", "flux-system", "HelmRepository", func(u string) bool { return u == "https://charts.example.com" })
	if err != nil || ref == nil || ref.Name != "charts" || ref.Namespace != "flux-system" {
		t.Errorf("FluxSource = %+v, %v", ref, err)
	}
}

// A directory is listed once, and what a parent's listing holds is not
// asked again.
func TestListingsAreKept(t *testing.T) {
	ctx := context.Background()
	f := &counting{Fake: forgetest.New(map[string]string{"apps/base/web/kustomization.yaml": "x", "apps/base/web/d.yaml": "y", "clusters/a.yml": "z"})}
	s := New(f, forge.Repo{}, "main")
	if p, err := s.Existing(ctx, "apps/overlays/web", "apps/base/web"); err != nil || p != "apps/base/web" {
		t.Errorf("Existing = %q, %v", p, err)
	}
	if got, _ := s.YAMLUnder(ctx, "apps/base/web"); len(got) != 2 {
		t.Errorf("YAMLUnder = %v", got)
	}
	lists := f.lists
	if got, _ := s.Under(ctx, "apps/base/web"); len(got) != 2 || f.lists != lists {
		t.Errorf("Under = %v after %d more listings", got, f.lists-lists)
	}
	if got, _ := s.Files(ctx); len(got) != 3 {
		t.Errorf("Files = %v", got)
	}
	if got, _ := s.Under(ctx, "clusters"); len(got) != 1 || f.lists != lists+1 {
		t.Errorf("under a listed parent: %v, %d listings", got, f.lists-lists)
	}
}
