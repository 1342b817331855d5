package argocd

import "github.com/gitops-bot/gitops-bot/providers"

// applicationOrder is the order of keys in Argo CD's documented
// Application, docs/operator-manual/application.yaml (argoproj/argo-cd at
// 37ee0097cf, kept in testdata/argocd-docs): the order a
// reader of Argo CD's documentation expects an Application in.
func applicationOrder(spec string) providers.KeyOrder {
	source := []string{"repoURL", "targetRevision", "path", "chart", "ref", "name", "helm", "kustomize", "directory", "plugin"}
	return providers.KeyOrder{
		spec:                           {"project", "source", "sources", "destination", "info", "syncPolicy", "ignoreDifferences", "revisionHistoryLimit", "sourceHydrator"},
		spec + ".source":               source,
		spec + ".sources[]":            source,
		spec + ".source.helm":          {"passCredentials", "parameters", "fileParameters", "releaseName", "valueFiles", "ignoreMissingValueFiles", "values", "valuesObject", "skipCrds", "skipSchemaValidation", "version", "kubeVersion", "apiVersions", "namespace"},
		spec + ".destination":          {"server", "name", "namespace"},
		spec + ".syncPolicy":           {"automated", "syncOptions", "managedNamespaceMetadata", "retry"},
		spec + ".syncPolicy.automated": {"enabled", "prune", "selfHeal", "allowEmpty"},
	}
}

func init() {
	app := applicationOrder("spec")
	app[""] = []string{"apiVersion", "kind", "metadata", "spec"}
	app["metadata"] = []string{"name", "namespace", "finalizers", "labels", "annotations"}
	providers.RegisterKeyOrder("argoproj.io", "Application", app)

	// An ApplicationSet's template is an Application's metadata and spec.
	set := applicationOrder("spec.template.spec")
	set[""] = app[""]
	set["metadata"] = app["metadata"]
	// The spec as docs/operator-manual/applicationset.yaml has it; its
	// template's spec is an Application's, in that document's order.
	set["spec"] = []string{"generators", "goTemplate", "goTemplateOptions", "template", "syncPolicy", "strategy", "preservedFields", "ignoreApplicationDifferences"}
	set["spec.template"] = []string{"metadata", "spec"}
	set["spec.template.metadata"] = app["metadata"]
	providers.RegisterKeyOrder("argoproj.io", "ApplicationSet", set)
}
