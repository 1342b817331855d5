package verbs_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

// corpus loads a public repository kept in the top-level testdata/corpus (see its
// SOURCE.md), with a .gitops-bot.yaml when config is not empty.
func corpus(t *testing.T, name, config string) *forgetest.Fake {
	t.Helper()
	root := filepath.Join("..", "..", "testdata", "corpus", name, "files")
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if config != "" {
		files[".gitops-bot.yaml"] = config
	}
	f := forgetest.New(files) // as it is: no directory added
	f.Permissions["alice"] = forge.PermWrite
	return f
}

// built is what kustomize builds of dir with the last proposal applied.
func built(t *testing.T, f *forgetest.Fake, dir string) []map[string]any {
	t.Helper()
	files := f.Snapshot()
	if ps := f.Proposals(); len(ps) > 0 {
		for _, file := range ps[len(ps)-1].Files {
			files[file.Path] = string(file.Content)
		}
	}
	after := forgetest.New(files)
	list, _ := after.ListFiles(context.Background(), forge.Repo{}, "main", "")
	objs, err := preflight.Build(preflight.NewTree(context.Background(), after, forge.Repo{}, "main", list, nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func object(objs []map[string]any, kind, name string) map[string]any {
	for _, o := range objs {
		if r := providers.Object(o).Ref(); r.Kind == kind && r.Name == name {
			return o
		}
	}
	return nil
}

func values(t *testing.T, o map[string]any) map[string]any {
	t.Helper()
	spec, _ := o["spec"].(map[string]any)
	v, _ := spec["values"].(map[string]any)
	if v == nil {
		t.Fatalf("no values in %v", o)
	}
	return v
}

// The official Flux example keeps per-environment values in a patch of the
// base HelmRelease. Day-2 changes go into that environment's patch, and
// the environment's build shows them.
const fluxExample = "fluxcd-flux2-kustomize-helm-example"

const fluxExampleConfig = "provider: flux\nenvironments:\n- {name: staging, dir: apps/staging}\n- {name: production, dir: apps/production}\n"

func TestFluxExampleSetImageEditsTheEnvironmentsPatch(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	reply := bottest.Handle(t, f, "/set-image podinfo ghcr.io/stefanprodan/podinfo:6.8.0 --env staging")
	patch := "apps/staging/podinfo-values.yaml"
	got := bottest.LastChange(t, f, 0)
	if len(got) != 1 {
		t.Fatalf("files %v; reply %s", got, reply)
	}
	bottest.OnlyLinesChanged(t, f.Files[patch], got[patch], "        - podinfo.staging\n", "        - podinfo.staging\n    image:\n      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.8.0\n")
	img := values(t, object(built(t, f, "apps/staging"), "HelmRelease", "podinfo"))["image"].(map[string]any)
	if img["tag"] != "6.8.0" {
		t.Errorf("built image %v", img)
	}
	if v := values(t, object(built(t, f, "apps/production"), "HelmRelease", "podinfo")); v["image"] != nil {
		t.Errorf("production changed: %v", v)
	}
}

func TestFluxExampleScaleEditsTheEnvironmentsPatch(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	bottest.Handle(t, f, "/scale podinfo 3 --env production")
	patch := "apps/production/podinfo-values.yaml"
	bottest.OnlyLinesChanged(t, f.Files[patch], bottest.LastChange(t, f, 0)[patch], "        - podinfo.production\n", "        - podinfo.production\n    replicaCount: 3\n")
	if v := values(t, object(built(t, f, "apps/production"), "HelmRelease", "podinfo")); v["replicaCount"] != float64(3) && v["replicaCount"] != 3 {
		t.Errorf("built replicaCount %v", v["replicaCount"])
	}
}

// A chart deployed into an environment directory with a kustomization is
// listed there (one line added, every other byte kept) and judged by the
// environment's build. In this repository the staging kustomization
// patches every HelmRelease (its patch targets the kind, not a name), so a
// new release would get podinfo's chart version and values: the patch
// patches podinfo alone today, so its target gets podinfo's name, and the
// pull request says so.
func TestFluxExampleDeployIsJudgedByTheBuild(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	k := "apps/staging/kustomization.yaml"
	reply := bottest.Handle(t, f, "/deploy redis --chart https://charts.bitnami.com/bitnami/redis --version 20.1.0 --env staging")
	got := bottest.LastChange(t, f, 0)
	if _, ok := got["apps/staging/redis.yaml"]; !ok {
		t.Fatalf("files %v; reply %s", keys(got), reply)
	}
	bottest.OnlyLinesChanged(t, f.Files[k], got[k], "  - ../base/podinfo\n", "  - ../base/podinfo\n  - redis.yaml\n", "      kind: HelmRelease\n", "      kind: HelmRelease\n      name: podinfo\n")
	if body := f.Proposals()[0].Body; !strings.Contains(body, "podinfo-values.yaml targets every HelmRelease; it patches only podinfo today, so its target now names it") {
		t.Errorf("body:\n%s", body)
	}
	f.Files[k] = got[k]
	f.Files["apps/staging/redis.yaml"] = got["apps/staging/redis.yaml"]
	objs := built(t, f, "apps/staging")
	if object(objs, "HelmRelease", "redis") == nil || object(objs, "HelmRepository", "redis") == nil || object(objs, "HelmRelease", "podinfo") == nil {
		t.Errorf("the build lacks the new objects: %d objects", len(objs))
	}
}

// An app-template HelmRelease keeps its image under
// controllers.<c>.containers.<c>.image and its replicas under
// controllers.<c>: the bot edits them there, not image.tag and
// replicaCount, which that chart ignores.
const homeOps = "onedr0p-home-ops"

const homeOpsConfig = "provider: flux\nenvironments:\n- {name: home, dir: kubernetes/apps/default}\n"

func TestAppTemplateSetImageAndScale(t *testing.T) {
	f := corpus(t, homeOps, homeOpsConfig)
	release := "kubernetes/apps/default/atuin/app/helmrelease.yaml"
	reply := bottest.Handle(t, f, "/set-image atuin ghcr.io/atuinsh/atuin:18.20.0 --env home")
	bottest.OnlyLinesChanged(t, f.Files[release], bottest.LastChange(t, f, 0)[release],
		"tag: 18.19.0@sha256:4d0ccca1d151f860b3f469c60df78bf1ab798f15e88dc1912d31d6741653eb99", "tag: 18.20.0")
	if !strings.Contains(reply, "Opened") {
		t.Errorf("reply %s", reply)
	}

	// Another registry: the repository changes too.
	reply = bottest.Handle(t, f, "/set-image atuin quay.io/mirror/atuin:18.20.0 --env home")
	bottest.OnlyLinesChanged(t, f.Files[release], bottest.LastChange(t, f, 1)[release],
		"repository: ghcr.io/atuinsh/atuin", "repository: quay.io/mirror/atuin",
		"tag: 18.19.0@sha256:4d0ccca1d151f860b3f469c60df78bf1ab798f15e88dc1912d31d6741653eb99", "tag: 18.20.0")

	bottest.Handle(t, f, "/scale atuin 2 --env home")
	bottest.OnlyLinesChanged(t, f.Files[release], bottest.LastChange(t, f, 2)[release],
		"                memory: 256Mi\n", "                memory: 256Mi\n        replicas: 2\n")
}

// With no .gitops-bot.yaml the default directory clusters/<env> does not
// exist in this repository: the bot writes nothing no cluster would apply,
// and says what applies directories here and the config to write.
func TestNoInventedDirectory(t *testing.T) {
	f := corpus(t, homeOps, "")
	reply := bottest.Handle(t, f, "/deploy redis --chart https://charts.bitnami.com/bitnami/redis --version 20.1.0 --env staging")
	for _, want := range []string{"this repository has no `clusters/staging`", "Kustomization `atuin` (`kubernetes/apps/default/atuin/ks.yaml`) applies `kubernetes/apps/default/atuin/app`", "environments:\n  - name: staging\n    dir: kubernetes/apps/default/atuin/app"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
	if len(f.Proposals()) != 0 {
		t.Error("a pull request into an invented directory")
	}
}

// The marker names objects as the environment's build has them: a
// kustomization that sets a namespace moves them there.
func TestMarkerNamesObjectsAsBuilt(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	k := "apps/staging/kustomization.yaml"
	f.Files[k] = strings.Replace(f.Files[k], "      kind: HelmRelease\n", "      kind: HelmRelease\n      name: podinfo\n", 1)
	f.Files[k] = strings.Replace(f.Files[k], "kind: Kustomization\n", "kind: Kustomization\nnamespace: staging-apps\n", 1)
	bottest.Handle(t, f, "/deploy redis --chart https://charts.bitnami.com/bitnami/redis --version 20.1.0 --env staging")
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("replies %v", f.Replies())
	}
	m, ok, err := marker.Parse(ps[0].Body)
	if !ok || err != nil {
		t.Fatalf("marker: %v", err)
	}
	for _, o := range m.Objects {
		if o.Namespace != "staging-apps" {
			t.Errorf("%s %s in %q, want the built namespace", o.Kind, o.Name, o.Namespace)
		}
	}
}

// With no .gitops-bot.yaml at all, the environment's cluster directory is
// followed to what it applies: clusters/staging/apps.yaml applies the
// artifact that the ArtifactGenerator copies from apps/staging, where
// staging's patch of podinfo lives.
func TestFluxExampleWithoutConfig(t *testing.T) {
	f := corpus(t, fluxExample, "")
	reply := bottest.Handle(t, f, "/set-image podinfo ghcr.io/stefanprodan/podinfo:6.8.0 --env staging")
	patch := "apps/staging/podinfo-values.yaml"
	got := bottest.LastChange(t, f, 0)
	if len(got) != 1 {
		t.Fatalf("files %v; reply %s", keys(got), reply)
	}
	bottest.OnlyLinesChanged(t, f.Files[patch], got[patch], "        - podinfo.staging\n", "        - podinfo.staging\n    image:\n      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.8.0\n")
}

// The other day-2 verbs on the Flux example: resources into the
// environment's patch, a promotion of the chart version range staging
// pins, and the rollback of a merged change.
func TestFluxExampleResourcesPromoteRollback(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	patch := "apps/production/podinfo-values.yaml"
	reply := bottest.Handle(t, f, "/resources podinfo --memory 256Mi --env production")
	got := bottest.LastChange(t, f, 0)
	bottest.OnlyLinesChanged(t, f.Files[patch], got[patch], "        - podinfo.production\n", "        - podinfo.production\n    resources:\n      requests:\n        memory: 256Mi\n      limits:\n        memory: 256Mi\n")
	if v := values(t, object(built(t, f, "apps/production"), "HelmRelease", "podinfo")); v["resources"] == nil {
		t.Errorf("built values %v; reply %s", v, reply)
	}

	n := len(f.Proposals())
	reply = bottest.Handle(t, f, "/promote podinfo --from staging --to production")
	got = bottest.LastChange(t, f, n)
	bottest.OnlyLinesChanged(t, f.Files[patch], got[patch], `version: ">=1.0.0"`, `version: ">=1.0.0-alpha"`)
	if !strings.Contains(f.Proposals()[n].Body, "chart version: `>=1.0.0` → `>=1.0.0-alpha`") {
		t.Errorf("reply %s", reply)
	}

	// The promotion is merged; /rollback puts the file back.
	before := f.Snapshot()
	for path, content := range got {
		f.Files[path] = content
	}
	f.MergedAs(42, before, f.Proposals()[n].Body, patch)
	n = len(f.Proposals())
	bottest.Handle(t, f, "/rollback 42")
	if got := bottest.LastChange(t, f, n)[patch]; got != before[patch] {
		t.Errorf("rolled back:\n%s", got)
	}
}

// app-template keeps a container's resources beside its image.
func TestAppTemplateResources(t *testing.T) {
	f := corpus(t, homeOps, homeOpsConfig)
	release := "kubernetes/apps/default/atuin/app/helmrelease.yaml"
	bottest.Handle(t, f, "/resources atuin --memory 512Mi --cpu 20m --env home")
	bottest.OnlyLinesChanged(t, f.Files[release], bottest.LastChange(t, f, 0)[release],
		"                cpu: 10m\n", "                cpu: 20m\n                memory: 512Mi\n",
		"                memory: 256Mi\n", "                memory: 512Mi\n")
}

// Argo CD's own ApplicationSet example generates an Application from every
// directory under cluster-addons/: a new application deployed there gets
// its overlay, and no second Application.
func TestArgoApplicationSetGeneratesTheApplication(t *testing.T) {
	config := "provider: argocd\nlayout:\n  base: applicationset/examples/bases/{app}\n  overlay: applicationset/examples/git-generator-directory/cluster-addons/{app}\nenvironments:\n- name: staging\n  dir: applicationset/examples/git-generator-directory\n  argocd: {namespace: argocd, project: my-project}\n"
	f := corpus(t, "argoproj-argo-cd-applicationset", config)
	ev := bottest.Comment(1, "alice", "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	ev.Repo.CloneURL = "https://github.com/argoproj/argo-cd.git"
	reply := bottest.HandleEvent(t, nil, f, ev)
	got := bottest.LastChange(t, f, 0)
	if _, ok := got["applicationset/examples/git-generator-directory/cluster-addons/web/kustomization.yaml"]; !ok {
		t.Fatalf("files %v; reply %s", keys(got), reply)
	}
	if _, ok := got["applicationset/examples/git-generator-directory/web.yaml"]; ok {
		t.Error("an Application beside the ApplicationSet that generates one")
	}
	if !strings.Contains(f.Proposals()[0].Body, "The ApplicationSet `cluster-addons`") {
		t.Errorf("body:\n%s", f.Proposals()[0].Body)
	}
}

// Day-2 commands on a repository the defaults do not fit get the same
// answer: what applies directories here, and the config to write.
func TestDay2WithoutConfigOnAnotherLayout(t *testing.T) {
	f := corpus(t, homeOps, "")
	reply := bottest.Handle(t, f, "/set-image atuin ghcr.io/atuinsh/atuin:18.20.0 --env staging")
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "this repository has no `clusters/staging`") || !strings.Contains(reply, "dir: kubernetes/apps/default/atuin/app") {
		t.Errorf("reply:\n%s", reply)
	}
}

// An environment that builds the release from the shared base with inline
// patches, or none, holds nothing of it in its own files: the change is a
// new patch in the environment's directory, listed in its kustomization,
// and judged by the environment's build.
func TestFluxExampleWithTheValuesInline(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	k := "apps/staging/kustomization.yaml"
	delete(f.Files, "apps/staging/podinfo-values.yaml")
	f.Files[k] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base/podinfo\npatches:\n  - patch: |\n      - op: add\n        path: /spec/values/replicaCount\n        value: 2\n    target:\n      kind: HelmRelease\n      name: podinfo\n"
	reply := bottest.Handle(t, f, "/set-image podinfo ghcr.io/stefanprodan/podinfo:6.8.0 --env staging")
	got := bottest.LastChange(t, f, 0)
	patch := "apps/staging/podinfo-set-image.yaml"
	if _, ok := got[patch]; !ok {
		t.Fatalf("files %v; reply %s", keys(got), reply)
	}
	if !strings.HasSuffix(got[k], "      name: podinfo\n  - path: podinfo-set-image.yaml\n") || !strings.HasPrefix(got[k], f.Files[k]) {
		t.Errorf("kustomization:\n%s", got[k])
	}
	img := values(t, object(built(t, f, "apps/staging"), "HelmRelease", "podinfo"))["image"].(map[string]any)
	if img["tag"] != "6.8.0" {
		t.Errorf("built image %v", img)
	}
}
