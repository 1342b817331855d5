package flux

import (
	"bytes"
	"sort"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// SyncedFrom lists the URLs of the GitRepositories that the Kustomizations
// among files (path → content) take as their source: where Flux fetches
// the repository that holds them from, as `flux bootstrap` writes it in
// gotk-sync.yaml. A file that does not parse is skipped.
func SyncedFrom(files map[string][]byte) []string {
	type key struct{ ns, name string }
	repos := map[key]string{}
	var sources []key
	for _, b := range files {
		d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var o struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
				Spec struct {
					URL       string `json:"url"`
					SourceRef struct {
						Kind      string `json:"kind"`
						Name      string `json:"name"`
						Namespace string `json:"namespace"`
					} `json:"sourceRef"`
				} `json:"spec"`
			}
			if err := d.Decode(&o); err != nil {
				break // the end, or the rest of a file that does not parse
			}
			switch {
			case o.Kind == sourcev1.GitRepositoryKind && o.Spec.URL != "":
				repos[key{o.Metadata.Namespace, o.Metadata.Name}] = o.Spec.URL
			case o.Kind == "Kustomization" && o.Spec.SourceRef.Kind == sourcev1.GitRepositoryKind:
				ns := o.Spec.SourceRef.Namespace
				if ns == "" {
					ns = o.Metadata.Namespace // a source ref's default, as kustomize-controller reads it
				}
				sources = append(sources, key{ns, o.Spec.SourceRef.Name})
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range sources {
		if u, ok := repos[s]; ok && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}
