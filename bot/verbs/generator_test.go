package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

// appsetFleet: one ApplicationSet per environment generates an
// Application per service from a list, and the tag each runs is an
// element's field the template puts in a kustomize image override.
func appsetFleet() map[string]string {
	base := func(name string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec:\n      containers:\n        - name: " + name + "\n          image: ghcr.io/acme/" + name + ":1.0.0\n"
	}
	appset := func(env, webTag, apiTag string) string {
		return `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: services-` + env + `
  namespace: argocd
spec:
  generators:
    - list:
        elements:
          - service: web
            tag: "` + webTag + `" # web's release
          - service: api
            tag: "` + apiTag + `"
  template:
    metadata:
      name: '{{service}}-` + env + `'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/fleet
        targetRevision: main
        path: 'apps/{{service}}'
        kustomize:
          images:
            - 'ghcr.io/acme/{{service}}:{{tag}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{service}}'
`
	}
	return map[string]string{
		".gitops-bot.yaml":                  "provider: argocd\n",
		"apps/web/deployment.yaml":          base("web"),
		"apps/web/kustomization.yaml":       "resources: [deployment.yaml]\n",
		"apps/api/deployment.yaml":          base("api"),
		"apps/api/kustomization.yaml":       "resources: [deployment.yaml]\n",
		"clusters/staging/services.yaml":    appset("staging", "1.4.2", "1.4.2"),
		"clusters/production/services.yaml": appset("production", "1.4.1", "2.0.0"),
	}
}

// The element's tag wins over the base's image: /set-image edits the
// element of this service, not the base every environment shares, nor the
// other service's element with the same tag.
func TestSetImageInApplicationSetElement(t *testing.T) {
	f := bottest.NewFake(appsetFleet())
	file := "clusters/staging/services.yaml"
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	got := bottest.LastChange(t, f, n)
	if len(got) != 1 {
		t.Fatalf("files %v; reply:\n%s", keys(got), reply)
	}
	bottest.OnlyLinesChanged(t, f.Files[file], got[file], `tag: "1.4.2" # web's release`, `tag: "1.5.0" # web's release`)
	if body := f.Proposals()[n].Body; !strings.Contains(body, "generator value") {
		t.Errorf("the pull request does not say where:\n%s", body)
	}
}

// A git files generator reads one config file per service: the tag there
// is this service's alone.
func TestSetImageInGeneratorConfigFile(t *testing.T) {
	files := appsetFleet()
	files["clusters/staging/services.yaml"] = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: services
  namespace: argocd
spec:
  goTemplate: true
  generators:
    - git:
        repoURL: https://github.com/acme/fleet
        revision: main
        files:
          - path: 'apps/*/staging.json'
  template:
    metadata:
      name: '{{.service}}-staging'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/fleet
        targetRevision: main
        path: 'apps/{{.service}}'
        kustomize:
          images:
            - 'ghcr.io/acme/{{.service}}:{{.tag}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{.service}}'
`
	files["apps/web/staging.json"] = "{\n  \"service\": \"web\",\n  \"tag\": \"1.4.2\"\n}\n"
	files["apps/api/staging.json"] = "{\n  \"service\": \"api\",\n  \"tag\": \"1.4.2\"\n}\n"
	f := bottest.NewFake(files)
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/set-image api ghcr.io/acme/api:1.6.0 --env staging")
	got := bottest.LastChange(t, f, n)
	cfg := "apps/api/staging.json"
	if len(got) != 1 || got[cfg] == "" {
		t.Fatalf("files %v; reply:\n%s", keys(got), reply)
	}
	bottest.OnlyLinesChanged(t, f.Files[cfg], got[cfg], `"tag": "1.4.2"`, `"tag": "1.6.0"`)
}

// /status reads the render: the image each environment's generated
// Application runs, not the base's.
func TestStatusOfAGeneratedApplication(t *testing.T) {
	f := bottest.NewFake(appsetFleet())
	reply := bottest.Handle(t, f, "/status web")
	for _, want := range []string{"| `staging` | image of container web `ghcr.io/acme/web:1.4.2`", "| `production` | image of container web `ghcr.io/acme/web:1.4.1`"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
}
