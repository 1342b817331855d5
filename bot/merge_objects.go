package bot

import (
	"context"
	"errors"
	"strings"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
)

// mergedObjects lists the Argo CD and Flux objects (a HelmRelease, a child
// Kustomization, a source) that the merged files of a pull request not
// opened by the bot declare, so that they are verified as the bot's own
// marker would have named them. Only objects with a namespace are named:
// one without is placed by its applier, which is verified anyway.
func mergedObjects(ctx context.Context, r forge.Reader, repo forge.Repo, sha string, files []string) ([]providers.Ref, error) {
	var out []providers.Ref
	for _, f := range files {
		if !strings.HasSuffix(f, ".yaml") && !strings.HasSuffix(f, ".yml") {
			continue
		}
		raw, err := r.ReadFile(ctx, repo, sha, f)
		var big *forge.TooLarge
		if errors.Is(err, forge.ErrNotFound) || errors.As(err, &big) {
			continue // deleted by the merge, or too large to hold objects worth naming
		}
		if err != nil {
			return nil, err
		}
		docs, err := chartrender.Decode(string(raw))
		if err != nil {
			continue // not Kubernetes YAML: the applier's verdict will say
		}
		for _, d := range docs {
			ref := providers.Ref{}
			ref.APIVersion, _ = d["apiVersion"].(string)
			ref.Kind, _ = d["kind"].(string)
			meta, _ := d["metadata"].(map[string]any)
			ref.Name, _ = meta["name"].(string)
			ref.Namespace, _ = meta["namespace"].(string)
			if _, ok := providers.GVRForKind(ref.Kind); ok && ref.Name != "" && ref.Namespace != "" {
				out = append(out, ref)
			}
		}
	}
	return out, nil
}
