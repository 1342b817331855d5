package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/render"
)

func TestScale(t *testing.T) {
	t.Run("kustomize overlay", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, web)
		prod := "apps/overlays/production/web/kustomization.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale web 4 --env production")
		bottest.OnlyLinesChanged(t, f.Files[prod], bottest.LastChange(t, f, n)[prod], "count: 2", "count: 4")
	})
	t.Run("HelmRelease values", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, podinfo)
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale podinfo 3 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 3")
	})
	t.Run("Argo CD Application valuesObject", func(t *testing.T) {
		f := bottest.NewFake(argoFleet(t))
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale podinfo 5 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 5")
	})
}

// An Argo CD Application's kustomize overrides win over its overlay: the
// image and replicas it overrides are changed there.
func TestArgoKustomizeOverrides(t *testing.T) {
	f := bottest.Fleet(t, "argocd", nil)
	bottest.Merged(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	app := "clusters/staging/web.yaml"
	if !strings.Contains(f.Files[app], "path: apps/overlays/staging/web") {
		t.Fatalf("fixture:\n%s", f.Files[app])
	}
	f.Files[app] = strings.Replace(f.Files[app], "    path: apps/overlays/staging/web\n", "    path: apps/overlays/staging/web\n    kustomize:\n      images:\n        - ghcr.io/acme/web:1.4.2 # pinned by hand\n      replicas:\n        - name: web\n          count: 2\n", 1)
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	bottest.OnlyLinesChanged(t, f.Files[app], bottest.LastChange(t, f, n)[app], "- ghcr.io/acme/web:1.4.2 #", "- ghcr.io/acme/web:1.5.0 #")
	if !strings.Contains(f.Proposals()[n].Body, "which Argo CD applies over its source") {
		t.Errorf("reply %s", reply)
	}
	n = len(f.Proposals())
	bottest.Handle(t, f, "/scale web 5 --env staging")
	bottest.OnlyLinesChanged(t, f.Files[app], bottest.LastChange(t, f, n)[app], "count: 2", "count: 5")
}

// Argo CD's parameter override file in the app's directory (as
// argocd-image-updater writes it) wins over the Application.
func TestArgoSourceOverrideFile(t *testing.T) {
	f := bottest.Fleet(t, "argocd", nil)
	bottest.Merged(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	override := "apps/overlays/staging/web/.argocd-source-web-staging.yaml"
	f.Files[override] = "kustomize:\n  images:\n  - ghcr.io/acme/web:1.4.2\n"
	n := len(f.Proposals())
	bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.6.0 --env staging")
	got := bottest.LastChange(t, f, n)
	if len(got) != 1 {
		t.Fatalf("files %v", keys(got))
	}
	bottest.OnlyLinesChanged(t, f.Files[override], got[override], "ghcr.io/acme/web:1.4.2", "ghcr.io/acme/web:1.6.0")
}

// A workload an HPA scales: /scale names the HPA and its bounds and
// changes nothing; --min and --max change the HPA where it is written,
// in the chart's values where a chart renders it.
func TestScaleAutoscaled(t *testing.T) {
	hpa := "clusters/production/api-hpa.yaml"
	fleet := func() *forgetest.Fake {
		files := argoFleet(t)
		files[hpa] = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: api\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: api\n  minReplicas: 2 # never below two\n  maxReplicas: 6\n"
		return bottest.NewFake(files)
	}
	t.Run("replicas refused", func(t *testing.T) {
		f := fleet()
		n := len(f.Proposals())
		reply := bottest.Handle(t, f, "/scale api 5 --env production")
		if len(f.Proposals()) != n {
			t.Fatal("a pull request was opened to scale what an HPA scales")
		}
		for _, want := range []string{"HorizontalPodAutoscaler `api`", "between 2 and 6", "--min N --max M"} {
			if !strings.Contains(reply, want) {
				t.Errorf("reply lacks %q:\n%s", want, reply)
			}
		}
	})
	t.Run("bounds in the HPA", func(t *testing.T) {
		f := fleet()
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale api --min 3 --max 10 --env production")
		got := bottest.LastChange(t, f, n)
		if len(got) != 1 {
			t.Fatalf("files %v", keys(got))
		}
		bottest.OnlyLinesChanged(t, f.Files[hpa], got[hpa], "minReplicas: 2 #", "minReplicas: 3 #", "maxReplicas: 6", "maxReplicas: 10")
		if p := f.Proposals()[n]; !strings.Contains(p.Title, "between 3 and 10") {
			t.Errorf("title %q", p.Title)
		}
	})
	t.Run("minimum above the maximum", func(t *testing.T) {
		f := fleet()
		n := len(f.Proposals())
		reply := bottest.Handle(t, f, "/scale api --min 8 --env production")
		if len(f.Proposals()) != n || !strings.Contains(reply, "above the maximum (6)") {
			t.Errorf("reply:\n%s", reply)
		}
	})
	t.Run("not autoscaled", func(t *testing.T) {
		f := bottest.NewFake(argoFleet(t))
		reply := bottest.Handle(t, f, "/scale api --max 4 --env production")
		if !strings.Contains(reply, "nothing autoscales") {
			t.Errorf("reply:\n%s", reply)
		}
	})
	t.Run("both replicas and bounds", func(t *testing.T) {
		f := fleet()
		reply := bottest.Handle(t, f, "/scale api 3 --max 4 --env production")
		if !strings.Contains(reply, "not both") {
			t.Errorf("reply:\n%s", reply)
		}
	})
	t.Run("chart values", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, podinfo)
		file := "clusters/staging/podinfo.yaml"
		f.Files[file] = strings.Replace(f.Files[file], "    replicaCount: 2\n", "    replicaCount: 2\n    hpa:\n      enabled: true\n      maxReplicas: 4\n", 1)
		bt := bot.New(bottest.Quiet)
		bt.Charts = render.ChartDir(charts) // the model renders podinfo's HPA
		n := len(f.Proposals())
		bottest.HandleEvent(t, bt, f, bottest.Comment(1, "alice", "/scale podinfo --max 7 --env staging"))
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "maxReplicas: 4", "maxReplicas: 7")
		// podinfo's HPA takes its minimum from replicaCount.
		f.Files[file] = bottest.LastChange(t, f, n)[file]
		n = len(f.Proposals())
		bottest.HandleEvent(t, bt, f, bottest.Comment(2, "alice", "/scale podinfo --min 3 --env staging"))
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 3")
	})
}
