package clustertest

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/render"
)

// Files are a repository's files in memory, as the render model reads them.
type Files = render.Files

// Rendered is what the render model says each applier of an environment
// applies, by "Kind/namespace/name" of the applier (root: what applies
// the environment's directory itself), for comparing with what the real
// controllers applied.
func Rendered(ctx context.Context, files map[string]string, repoURL string, spec render.Spec, root string) (map[string][]*unstructured.Unstructured, error) {
	env, err := model.New(repoURL, nil).Env(ctx, render.NewTree(ctx, Files(files), ""), spec)
	if err != nil {
		return nil, err
	}
	out := map[string][]*unstructured.Unstructured{}
	for _, o := range env.Objects {
		a := env.Appliers[o.Applier]
		key := root
		if a.Ref != render.Root {
			key = a.Ref.Kind + "/" + a.Ref.Namespace + "/" + a.Ref.Name
		}
		// The API machinery's number types (int64, float64) for the objects.
		b, err := json.Marshal(o.Obj)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(b, &obj); err != nil {
			return nil, err
		}
		out[key] = append(out[key], &unstructured.Unstructured{Object: obj})
	}
	return out, nil
}
