package chartrender

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
)

// ociChart pulls chart name of the OCI registry repository repoURL
// (oci://HOST/PATH, the chart at HOST/PATH/NAME) with Helm's registry
// client: the tag version, or the newest tag a semver range allows, as
// helm pull and Flux's OCIRepository pick it.
func (r *Renderer) ociChart(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	ref := ociRef(repoURL, name)
	client, err := r.registry()
	if err != nil {
		return nil, err
	}
	tag := version
	if isRange(version) {
		if tag, err = pickTag(client, ref, version); err != nil {
			return nil, err
		}
	}
	// Helm writes a version's + as _ in a tag.
	full := ref + ":" + strings.ReplaceAll(tag, "+", "_")
	if v, ok := r.charts.Get(full); ok {
		return v.(*chart.Chart), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := client.Pull(full)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", full, err)
	}
	if res.Chart == nil || len(res.Chart.Data) > maxDownload {
		return nil, fmt.Errorf("chart %s: no chart layer, or larger than %d MB", full, maxDownload>>20)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", full, err)
	}
	r.charts.Add(full, ch)
	return ch, nil
}

// pickTag is the newest tag of ref that version (a semver range, or one
// version) allows, as Flux's OCIRepository picks it.
func pickTag(client *registry.Client, ref, version string) (string, error) {
	c, err := semver.NewConstraint(orAny(version))
	if err != nil {
		return "", fmt.Errorf("version %q: %w", version, err)
	}
	tags, err := client.Tags(ref) // newest first
	if err != nil {
		return "", fmt.Errorf("the tags of %s: %w", ref, err)
	}
	if len(tags) == 0 {
		return "", noChartf("the registry has no tag of %s", ref)
	}
	for _, t := range tags {
		if v, err := semver.NewVersion(t); err == nil && c.Check(v) {
			return t, nil
		}
	}
	return "", noVersion(path.Base(ref), version, "oci://"+path.Dir(ref), tags)
}

// ociRef is the registry reference of chart name of the OCI repository
// repoURL (oci://HOST/PATH): HOST/PATH/NAME.
func ociRef(repoURL, name string) string {
	return strings.TrimPrefix(strings.TrimSuffix(repoURL, "/"), "oci://") + "/" + name
}

// registry is Helm's registry client. It takes no context: each of its
// requests is bounded by the renderer's time limit instead.
func (r *Renderer) registry() (*registry.Client, error) {
	hc := &http.Client{Transport: r.client.Transport, Timeout: r.timeout}
	return registry.NewClient(registry.ClientOptHTTPClient(hc), registry.ClientOptEnableCache(true))
}

// isRange: version is a semver constraint, not one tag.
func isRange(version string) bool {
	return version == "" || strings.ContainsAny(version, "<>=~^*|, ") || strings.HasSuffix(version, ".x")
}

func orAny(version string) string {
	if version == "" {
		return "*"
	}
	return version
}
