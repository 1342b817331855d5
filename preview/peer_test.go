package preview_test

import (
	"context"
	"maps"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
)

const (
	fluxBuild = "../providers/flux/testdata/flux2-build-kustomization"
	fluxDiff  = "testdata/flux2-diff-kustomization"
)

var goldenLine = regexp.MustCompile(`^► (\S+) (created|drifted)$`)

// The preview says what `flux diff kustomization` says, on Flux's own
// cases: the same objects created and drifted, Secret values masked.
func TestPreviewIsWhatFluxDiffSays(t *testing.T) {
	ks, err := os.ReadFile(fluxBuild + "/podinfo-kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, cluster, golden string }{
		{"nothing deployed", "", "diff-new-kustomization.golden"},
		{"a drifted secret", "secret.yaml", "diff-with-drifted-secret.golden"},
		{"a drifted service", "service.yaml", "diff-with-drifted-service.golden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			obj := strings.ReplaceAll(string(ks), "{{ .fluxns }}", "flux-system")
			// The base: what the cluster holds, as one directory.
			inCluster := "resources: []\n"
			var files []forge.File
			if c.cluster != "" {
				b, err := os.ReadFile(fluxDiff + "/" + c.cluster)
				if err != nil {
					t.Fatal(err)
				}
				text := regexp.MustCompile(`(?m)^\s+kustomize\.toolkit\.fluxcd\.io/\w+: .*\n`).ReplaceAllString(string(b), "")
				text = strings.Replace(text, "metadata:\n  labels:\n", "metadata:\n", 1)
				files = append(files, forge.File{Path: "_cluster/object.yaml", Content: []byte(text)})
				inCluster = "resources: [object.yaml]\n"
			}
			files = append(files, forge.File{Path: "_cluster/kustomization.yaml", Content: []byte(inCluster)},
				forge.File{Path: "_env/podinfo.yaml", Content: []byte(strings.Replace(obj, "path: ./kustomize", "path: ./_cluster", 1))})
			dir := render.NewTree(ctx, render.Dir(fluxBuild), "")
			base := dir.With(ctx, files)
			head := dir.With(ctx, []forge.File{{Path: "_env/podinfo.yaml", Content: []byte(strings.Replace(obj, "path: ./kustomize", "path: ./podinfo", 1))}})
			r := model.New("", nil)
			reps, err := preview.Environments(ctx, r, r, []render.Spec{{Name: "test", Dir: "_env", Tool: "flux"}}, base, head, nil, preview.Options{})
			if err != nil || len(reps) != 1 {
				t.Fatalf("previews %v, %v", reps, err)
			}
			p := reps[0]
			got := map[string]string{}
			for _, o := range p.Added {
				got[o.Kind+"/"+o.Namespace+"/"+o.Name] = "created"
			}
			for _, o := range p.Changed {
				if o.Kind != "Kustomization" { // the Kustomization itself, not in flux diff
					got[o.Kind+"/"+o.Namespace+"/"+o.Name] = "drifted"
				}
			}
			golden, err := os.ReadFile(fluxDiff + "/" + c.golden)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for _, l := range strings.Split(string(golden), "\n") {
				if m := goldenLine.FindStringSubmatch(l); m != nil {
					want[m[1]] = m[2]
				}
			}
			if len(want) == 0 || !maps.Equal(got, want) {
				t.Errorf("preview\n got %v\nwant %v", sorted(got), sorted(want))
			}
			if strings.Contains(string(golden), "*** (before)") {
				for _, w := range []string{"*** (before)", "*** (after)"} {
					if !strings.Contains(p.Text, w) {
						t.Errorf("the diff lacks %q:\n%s", w, p.Text)
					}
				}
				if strings.Contains(p.Text, "cGFzc3dvcmQK") || strings.Contains(p.Text, "1f2d1e2e67df") {
					t.Errorf("a Secret value shows:\n%s", p.Text)
				}
			}
		})
	}
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	sort.Strings(out)
	return out
}
