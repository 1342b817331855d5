package preview_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
)

const url = "https://github.com/acme/fleet"

var specs = []render.Spec{
	{Name: "staging", Dir: "clusters/staging", Tool: "flux"},
	{Name: "production", Dir: "clusters/production", Tool: "flux"},
}

func fleet(t testing.TB) map[string]string {
	t.Helper()
	f, err := examples.Files("flux", url)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// previews renders both sides with one renderer, as the bot does.
func previews(t *testing.T, base, head map[string]string, changed []string, o preview.Options) map[string]*preview.Report {
	t.Helper()
	ctx := context.Background()
	r := model.New(url, render.ChartDir("../testdata/charts"))
	out, err := preview.Environments(ctx, r, r, specs, render.NewTree(ctx, render.Files(base), "base"), render.NewTree(ctx, render.Files(head), "head"), changed, o)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*preview.Report{}
	for _, rep := range out {
		m[rep.Env] = rep
	}
	return m
}

func edit(files map[string]string, path, old, new string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	out[path] = strings.Replace(out[path], old, new, 1)
	return out
}

// A change to the base reaches both environments: each gets a preview
// with the Deployment changed and its resources before and after, summed
// over its replicas.
func TestBaseChangeReachesEveryEnvironment(t *testing.T) {
	base := fleet(t)
	dep := "apps/base/frontend/deployment.yaml"
	head := edit(base, dep, "            cpu: 100m", "            cpu: 250m")
	got := previews(t, base, head, []string{dep}, preview.Options{})
	if len(got) != 2 {
		t.Fatalf("previews for %d environments, want 2", len(got))
	}
	prod := got["production"]
	if len(prod.Changed) != 1 || prod.Changed[0].Kind != "Deployment" || len(prod.Added)+len(prod.Removed) != 0 {
		t.Fatalf("production: added %v changed %v removed %v", prod.Added, prod.Changed, prod.Removed)
	}
	if prod.Changed[0].Applier != "Kustomization flux-system/frontend" {
		t.Errorf("applier %q", prod.Changed[0].Applier)
	}
	// Two replicas in each.
	if r := prod.Resources.CPURequests; r.From != "200m" || r.To != "500m" {
		t.Errorf("production CPU requests %+v, want 200m → 500m", r)
	}
	if r := got["staging"].Resources.CPURequests; r.From != "200m" || r.To != "500m" {
		t.Errorf("staging CPU requests %+v", r)
	}
	if !strings.Contains(prod.Text, "-            cpu: 100m") || !strings.Contains(prod.Text, "+            cpu: 250m") {
		t.Errorf("the diff does not show the change:\n%s", prod.Text)
	}
	if prod.Conclusion != "success" || prod.Routine {
		t.Errorf("conclusion %s routine %v", prod.Conclusion, prod.Routine)
	}
}

// An overlay's change reaches its environment only; an image tag bump is
// routine, with the image change listed.
func TestOverlayTagBumpIsRoutine(t *testing.T) {
	base := fleet(t)
	k := "apps/overlays/production/frontend/kustomization.yaml"
	head := edit(base, k, "newTag: 1.4.2", "newTag: 1.5.0")
	got := previews(t, base, head, []string{k}, preview.Options{})
	if len(got) != 1 || got["production"] == nil {
		t.Fatalf("previews %v, want production only", keys(got))
	}
	p := got["production"]
	if !p.Routine || !strings.HasPrefix(p.Title, "Routine: ") {
		t.Errorf("not routine: %q", p.Title)
	}
	if len(p.Images) != 1 || p.Images[0].From != "ghcr.io/acme/frontend:1.4.2" || p.Images[0].To != "ghcr.io/acme/frontend:1.5.0" || p.Images[0].Container != "frontend" {
		t.Errorf("images %+v", p.Images)
	}
}

// A kustomization that no longer builds is a failure on its line, not
// every object of the base shown as removed.
func TestBrokenKustomizationIsTheFailure(t *testing.T) {
	base := fleet(t)
	k := "apps/overlays/staging/frontend/kustomization.yaml"
	head := edit(base, k, "- ../../../base/frontend", "- ../../../base/missing")
	p := previews(t, base, head, []string{k}, preview.Options{})["staging"]
	if p == nil || p.Conclusion != "failure" {
		t.Fatalf("preview %+v", p)
	}
	if len(p.Removed) != 0 {
		t.Errorf("the failed side's objects are shown as removed: %v", p.Removed)
	}
	if len(p.Annotations) == 0 || p.Annotations[0].Path != "clusters/staging/frontend.yaml" || p.Annotations[0].Level != "failure" || p.Annotations[0].StartLine < 1 {
		t.Errorf("annotations %+v", p.Annotations)
	}
	if !strings.Contains(p.Summary, "no longer renders") {
		t.Errorf("summary:\n%s", p.Summary)
	}
}

// Warnings a reviewer should see, neutral unless the repository says
// they fail.
func TestWarnings(t *testing.T) {
	base := fleet(t)
	dep := "apps/base/frontend/deployment.yaml"
	head := edit(base, dep, "allowPrivilegeEscalation: false", "privileged: true")
	head = edit(head, dep, "      app.kubernetes.io/name: frontend\n  template:", "      app.kubernetes.io/name: frontend\n      tier: web\n  template:")
	head = edit(head, "apps/overlays/staging/frontend/kustomization.yaml", "newTag: 1.4.3", "newTag: latest")
	got := previews(t, base, head, []string{dep}, preview.Options{})
	s := got["staging"]
	ids := map[string]bool{}
	for _, w := range s.Warnings {
		ids[w.ID] = true
	}
	for _, want := range []string{preview.WarnImmutable, preview.WarnPrivilege, preview.WarnLatest} {
		if !ids[want] {
			t.Errorf("no %s warning; warnings %+v", want, s.Warnings)
		}
	}
	if s.Conclusion != "neutral" {
		t.Errorf("conclusion %s, want neutral", s.Conclusion)
	}
	failing := previews(t, base, head, []string{dep}, preview.Options{Fail: map[string]bool{preview.WarnPrivilege: true}})["staging"]
	if failing.Conclusion != "failure" {
		t.Errorf("a warning the repository fails on: conclusion %s", failing.Conclusion)
	}
	annotated := false
	for _, a := range failing.Annotations {
		annotated = annotated || a.Path == dep && a.Level == "failure" && strings.Contains(a.Message, "privileged")
	}
	if !annotated {
		t.Errorf("annotations %+v", failing.Annotations)
	}
}

// Removing a Namespace the Kustomization prunes: said, with what prunes it.
func TestRemovalSaysWhetherItIsPruned(t *testing.T) {
	base := fleet(t)
	k := "apps/overlays/staging/frontend/kustomization.yaml"
	head := edit(base, k, "- namespace.yaml\n", "")
	p := previews(t, base, head, []string{k}, preview.Options{})["staging"]
	var msgs []string
	for _, w := range p.Warnings {
		msgs = append(msgs, w.ID+": "+w.Message)
	}
	joined := strings.Join(msgs, "\n")
	if !strings.Contains(joined, "removed: Namespace frontend is removed: the Kustomization frontend prunes") || !strings.Contains(joined, "prune-deletes") {
		t.Errorf("warnings:\n%s", joined)
	}
}

// Secrets never show a value: keys listed, values masked as flux diff
// masks them, also where a value is substituted into another object.
func TestSecretValuesAreMasked(t *testing.T) {
	base := fleet(t)
	k := "apps/overlays/staging/frontend/kustomization.yaml"
	base = edit(base, k, "- namespace.yaml\n", "- namespace.yaml\n- secret.yaml\n- config.yaml\n")
	base["apps/overlays/staging/frontend/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: hunter2-old\n  user: admin-user\n"
	base["apps/overlays/staging/frontend/config.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  url: postgres://admin-user:hunter2-old@db\n"
	head := edit(base, "apps/overlays/staging/frontend/secret.yaml", "hunter2-old", "s3cr3t-new")
	head = edit(head, "apps/overlays/staging/frontend/config.yaml", "hunter2-old", "s3cr3t-new")
	p := previews(t, base, head, nil, preview.Options{})["staging"]
	out, _ := json.Marshal(p)
	for _, secret := range []string{"hunter2-old", "s3cr3t-new", "admin-user"} {
		if strings.Contains(p.Summary+p.Text+string(out), secret) {
			t.Errorf("the preview shows the secret value %q:\n%s", secret, p.Text)
		}
	}
	for _, want := range []string{"password: '*** (before)'", "password: '*** (after)'", "user: '***'"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("the diff lacks %q:\n%s", want, p.Text)
		}
	}
}

// A preview that does not fit lists every object and cuts the diffs,
// saying how to see them all.
func TestLargePreviewIsCut(t *testing.T) {
	base := fleet(t)
	k := "apps/overlays/staging/frontend/kustomization.yaml"
	head := edit(base, k, "- namespace.yaml\n", "- namespace.yaml\n- many.yaml\n")
	var many strings.Builder
	for i := 0; i < 300; i++ {
		many.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c" + strings.Repeat("x", i%7) + itoa(i) + "}\ndata: {k: \"" + strings.Repeat("v", 200) + "\"}\n")
	}
	head["apps/overlays/staging/frontend/many.yaml"] = many.String()
	p := previews(t, base, head, []string{k}, preview.Options{SeeAll: "gitops-bot preview --base main --head pr --env staging"})["staging"]
	if len(p.Added) != 300 {
		t.Fatalf("added %d, want 300", len(p.Added))
	}
	if len(p.Text) > preview.MaxText || len(p.Summary) > preview.MaxText {
		t.Errorf("text %d, summary %d characters: more than GitHub takes", len(p.Text), len(p.Summary))
	}
	if !strings.Contains(p.Text, "did not fit") || !strings.Contains(p.Text, "gitops-bot preview --base main") {
		t.Errorf("the text does not say what was left out")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func keys(m map[string]*preview.Report) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The configuration accepts exactly the warnings the preview gives.
func TestConfigKnowsEveryWarning(t *testing.T) {
	if strings.Join(config.PreviewWarnings, ",") != strings.Join(preview.WarningIDs, ",") {
		t.Errorf("config: %v\npreview: %v", config.PreviewWarnings, preview.WarningIDs)
	}
}
