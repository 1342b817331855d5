package preview_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
	"github.com/gitops-bot/gitops-bot/render/rendertest"
)

// A pull request that changes one environment's overlay of one
// application of the 2,000-file fleet.
func benchChange(files map[string]string, tag string) (map[string]string, []string) {
	p := "apps/app007/overlays/prod/kustomization.yaml"
	head := map[string]string{}
	for k, v := range files {
		head[k] = v
	}
	head[p] = strings.Replace(files[p], "newTag: 1.0.0", "newTag: "+tag, 1)
	return head, []string{p}
}

func benchSpecs() []render.Spec {
	var out []render.Spec
	for _, e := range rendertest.Envs {
		out = append(out, render.Spec{Name: e, Dir: "clusters/" + e, Tool: "flux"})
	}
	return out
}

func previewOnce(b *testing.B, r *render.Renderer, base, head map[string]string, changed []string, id string) {
	ctx := context.Background()
	reps, err := preview.Environments(ctx, r, r, benchSpecs(), render.NewTree(ctx, render.Files(base), "base"), render.NewTree(ctx, render.Files(head), id), changed, preview.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if len(reps) != 1 || len(reps[0].Changed) != 1 || len(reps[0].Images) != 1 {
		b.Fatalf("previews %d, want prod with one image changed", len(reps))
	}
}

// BenchmarkPreview, side by side in one run: the preview of a pull
// request touching one environment of the 2,000-file fleet with three
// environments, cold (nothing rendered yet) and after a push (the base and
// the previous head rendered); and the way a CI job does it, a shallow
// clone of each side and a kustomize build of every Kustomization of each
// environment on each side.
func BenchmarkPreview(b *testing.B) {
	files := rendertest.Fleet(rendertest.Apps)
	head1, changed := benchChange(files, "1.1.0")
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			previewOnce(b, model.New("", nil), files, head1, changed, "head1")
		}
		b.ReportMetric(rendertest.HeapMB(func() { previewOnce(b, model.New("", nil), files, head1, changed, "head1") }), "peak-heap-MB")
	})
	b.Run("after-a-push", func(b *testing.B) {
		r := model.New("", nil)
		previewOnce(b, r, files, head1, changed, "head1")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			head2, _ := benchChange(files, "1.2."+itoa(i))
			previewOnce(b, r, files, head2, changed, "head2-"+itoa(i))
		}
	})
	b.Run("clone-and-build", func(b *testing.B) {
		if _, err := exec.LookPath("git"); err != nil {
			b.Skip("git is not installed")
		}
		repo := gitRepo(b, files, head1)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, ref := range []string{"main", "change"} {
				dir := filepath.Join(b.TempDir(), ref)
				git(b, "", "clone", "--quiet", "--depth", "1", "--branch", ref, "file://"+repo, dir)
				for _, env := range rendertest.Envs {
					buildEnv(b, dir, env)
				}
			}
		}
	})
}

// buildEnv builds each Kustomization's path of an environment with
// kustomize, as a CI job with `kustomize build` does.
func buildEnv(b *testing.B, dir, env string) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	fs := filesys.MakeFsOnDisk()
	entries, err := os.ReadDir(filepath.Join(dir, "clusters", env))
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		app := strings.TrimSuffix(e.Name(), ".yaml")
		if _, err := k.Run(fs, filepath.Join(dir, "apps", app, "overlays", env)); err != nil {
			b.Fatal(err)
		}
	}
}

func gitRepo(b *testing.B, base, head map[string]string) string {
	dir := b.TempDir()
	write := func(files map[string]string) {
		for p, c := range files {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	git(b, dir, "init", "--quiet", "--initial-branch", "main")
	write(base)
	git(b, dir, "add", "-A")
	git(b, dir, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "--quiet", "-m", "base")
	git(b, dir, "checkout", "--quiet", "-b", "change")
	write(head)
	git(b, dir, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "--quiet", "-am", "change")
	return dir
}

func git(b *testing.B, dir string, args ...string) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
