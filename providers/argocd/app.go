package argocd

import (
	"fmt"
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-bot/gitops-bot/providers"
)

// WireApp writes an Application per environment, or, for several
// environments, one ApplicationSet whose list generator has an element per
// environment.
func (Provider) WireApp(req providers.AppRequest) ([]providers.Manifest, error) {
	managed := map[string]string{"app.kubernetes.io/managed-by": "gitops-bot"}
	if len(req.Envs) == 1 {
		e := req.Envs[0]
		app := &Application{
			TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "Application"},
			ObjectMeta: metav1.ObjectMeta{Name: req.App + "-" + e.Name, Namespace: e.Namespace, Labels: managed, Finalizers: []string{ResourcesFinalizer}},
			Spec:       appSpec(req, e.Project, destination(e.Environment, req.RunsIn(e)), e.Overlay, valuesFile(req, e)),
		}
		obj, err := providers.ToObject(app)
		if err != nil {
			return nil, err
		}
		return []providers.Manifest{{Path: e.Wiring, Env: e.Name, Objects: []providers.Object{obj}}}, nil
	}

	first := req.Envs[0]
	// Environments on one cluster run the application in namespaces of
	// their own: the element carries it then.
	ns, perEnv := req.RunsIn(first), false
	for _, e := range req.Envs {
		perEnv = perEnv || req.RunsIn(e) != ns
	}
	if perEnv {
		ns = "{{.namespace}}"
	}
	var elements []map[string]string
	for _, e := range req.Envs {
		if e.DestinationName != "" {
			return nil, fmt.Errorf("environment %s names its Argo CD destination by cluster name; an ApplicationSet of several environments needs destinationServer for each", e.Name)
		}
		if e.Project != first.Project || e.Namespace != first.Namespace {
			return nil, fmt.Errorf("environments %s and %s use different Argo CD projects or namespaces; deploy them one at a time", first.Name, e.Name)
		}
		d := destination(e.Environment, req.RunsIn(e))
		el := map[string]string{"env": e.Name, "server": d.Server, "path": e.Overlay}
		if req.Format == providers.FormatHelm {
			el = map[string]string{"env": e.Name, "server": d.Server, "values": valuesFile(req, e)}
		}
		if perEnv {
			el["namespace"] = d.Namespace
		}
		elements = append(elements, el)
	}
	spec := appSpec(req, first.Project, ApplicationDestination{Server: "{{.server}}", Namespace: ns}, "{{.path}}", "{{.values}}")
	set := &ApplicationSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "ApplicationSet"},
		ObjectMeta: metav1.ObjectMeta{Name: req.App, Namespace: first.Namespace, Labels: managed},
		Spec: ApplicationSetSpec{
			GoTemplate:        true,
			GoTemplateOptions: []string{"missingkey=error"},
			Generators:        []ApplicationSetGenerator{{List: &ListGenerator{Elements: elements}}},
			Template: ApplicationSetTemplate{
				Metadata: ApplicationSetTemplateMeta{Name: req.App + "-{{.env}}", Labels: managed, Finalizers: []string{ResourcesFinalizer}},
				Spec:     spec,
			},
		},
	}
	obj, err := providers.ToObject(set)
	if err != nil {
		return nil, err
	}
	return []providers.Manifest{{Path: req.AppSet, Env: first.Name, Objects: []providers.Object{obj}}}, nil
}

func appSpec(req providers.AppRequest, project string, dest ApplicationDestination, overlay, values string) ApplicationSpec {
	src := &ApplicationSource{RepoURL: req.Repo.URL, TargetRevision: req.Repo.Branch, Path: overlay}
	if req.Format == providers.FormatHelm {
		src.Path = req.Chart
		src.Helm = &HelmSource{ReleaseName: req.App, ValueFiles: []string{"values.yaml", values}}
	}
	return ApplicationSpec{
		Project:     project,
		Source:      src,
		Destination: dest,
		SyncPolicy: &SyncPolicy{
			Automated:   &SyncPolicyAutomated{Prune: true, SelfHeal: true},
			SyncOptions: []string{"CreateNamespace=true"},
		},
	}
}

// valuesFile is an environment's values file relative to the chart, as
// Argo CD's valueFiles want it.
func valuesFile(req providers.AppRequest, e providers.AppEnvironment) string {
	if req.Format != providers.FormatHelm {
		return ""
	}
	if rel, ok := cutDir(e.Values, req.Chart); ok {
		return rel
	}
	return e.Values
}

func cutDir(p, dir string) (string, bool) {
	if len(p) > len(dir) && p[:len(dir)+1] == dir+"/" {
		return path.Clean(p[len(dir)+1:]), true
	}
	return "", false
}
