package bot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
)

// What a command reads of the repository, at the default branch, once.

// repoFiles lists the repository's files (one host call, cached).
func (x *execution) repoFiles(ctx context.Context) ([]string, error) {
	if x.files == nil {
		files, err := x.forge.ListFiles(ctx, x.event.Repo, x.event.Repo.DefaultBranch, "")
		if err != nil {
			return nil, err
		}
		x.files = files
	}
	return x.files, nil
}

// existing returns the first of paths (files, or directories holding files)
// that the repository already has.
func (x *execution) existing(ctx context.Context, paths ...string) (string, error) {
	files, err := x.repoFiles(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range paths {
		for _, f := range files {
			if f == p || strings.HasPrefix(f, p+"/") {
				return p, nil
			}
		}
	}
	return "", nil
}

// objectsIn reads the Kubernetes objects of the YAML files under dir. A
// file that does not parse is skipped here: the preflight build reports it
// where it matters.
func (x *execution) objectsIn(ctx context.Context, dir string) ([]providers.Object, error) {
	files, err := x.repoFiles(ctx)
	if err != nil {
		return nil, err
	}
	var out []providers.Object
	for _, f := range files {
		if !strings.HasPrefix(f, dir+"/") || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			continue
		}
		b, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			obj := map[string]any{}
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) || err != nil {
				break
			}
			if len(obj) > 0 {
				out = append(out, providers.Object(obj))
			}
		}
	}
	return out, nil
}

// existingSource finds, in an environment's directory, a Flux source of a
// kind whose URL matches.
func (x *execution) existingSource(ctx context.Context, e Environment, kind string, match func(url string) bool) (*providers.Ref, error) {
	objs, err := x.objectsIn(ctx, e.Dir)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		ref := o.Ref()
		spec, _ := o["spec"].(map[string]any)
		url, _ := spec["url"].(string)
		if ref.Kind == kind && strings.HasPrefix(ref.APIVersion, "source.toolkit.fluxcd.io/") && match(url) {
			if ref.Namespace == "" {
				ref.Namespace = e.Flux.Namespace
			}
			return &ref, nil
		}
	}
	return nil, nil
}

// existingHelmRepository: a HelmRepository of the chart's URL, for Flux.
func (x *execution) existingHelmRepository(ctx context.Context, e Environment, url string) (*providers.Ref, error) {
	if x.providerName != "flux" || strings.HasPrefix(url, "oci://") {
		return nil, nil
	}
	return x.existingSource(ctx, e, "HelmRepository", func(u string) bool {
		return strings.TrimSuffix(u, "/") == strings.TrimSuffix(url, "/")
	})
}
