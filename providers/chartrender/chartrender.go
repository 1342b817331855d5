// Package chartrender renders a chart kept in a Helm repository, as the
// cluster's controller would install it, so that a change to a release's
// values is judged on the objects the chart makes. Charts are fetched over
// HTTP(S) from a Helm repository or an OCI registry, within a time limit,
// and kept in memory by URL.
package chartrender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/lru"
	sigsyaml "sigs.k8s.io/yaml"
)

// maxDownload bounds an index or a chart archive.
const maxDownload = 32 << 20

// Renderer fetches and renders charts. The zero value is not usable: use New.
type Renderer struct {
	client  *http.Client
	timeout time.Duration
	charts  *lru.Cache // chart URL -> *chart.Chart
}

// New returns a renderer whose fetches take at most timeout each.
func New(client *http.Client, timeout time.Duration) *Renderer {
	if client == nil {
		client = http.DefaultClient
	}
	return &Renderer{client: client, timeout: timeout, charts: lru.New(64)}
}

// Render renders chart name at version (an exact version or a semver
// range, as a HelmRelease gives it) from the Helm repository at repoURL,
// with values, as release in namespace.
func (r *Renderer) Render(ctx context.Context, repoURL, name, version, release, namespace string, values map[string]any) ([]map[string]any, error) {
	ch, err := r.Load(ctx, repoURL, name, version)
	if err != nil {
		return nil, err
	}
	// No values schema check: a schema may $ref URLs, never fetched for a chart.
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, values, chartutil.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true}, chartutil.DefaultCapabilities, true)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	var out []map[string]any
	for _, n := range ManifestNames(rendered) {
		objs, err := Decode(rendered[n])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Load fetches chart name at version from the Helm repository or the OCI
// registry at repoURL (render.Charts).
func (r *Renderer) Load(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	if strings.HasPrefix(repoURL, "oci://") {
		return r.ociChart(ctx, repoURL, name, version)
	}
	return r.chart(ctx, repoURL, name, version)
}

func (r *Renderer) chart(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, ref, err := r.inIndex(ctx, repoURL, name, version)
	if err != nil {
		return nil, err
	}
	u, err := resolve(strings.TrimSuffix(repoURL, "/")+"/", ref)
	if err != nil {
		return nil, err
	}
	if v, ok := r.charts.Get(u); ok {
		return v.(*chart.Chart), nil
	}
	archive, err := r.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", u, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", u, err)
	}
	r.charts.Add(u, ch)
	return ch, nil
}

// inIndex reads the index of the Helm repository at repoURL and picks the
// version of name that version allows, with its archive's address.
func (r *Renderer) inIndex(ctx context.Context, repoURL, name, version string) (picked, ref string, err error) {
	b, err := r.get(ctx, strings.TrimSuffix(repoURL, "/")+"/index.yaml")
	var status *statusError
	if errors.As(err, &status) && status.code == http.StatusNotFound {
		return "", "", noChartf("%s has no index.yaml, so it is not a Helm repository", repoURL)
	}
	if err != nil {
		return "", "", fmt.Errorf("the index of %s: %w", repoURL, err)
	}
	var idx index
	if err := sigsyaml.Unmarshal(b, &idx); err != nil {
		return "", "", fmt.Errorf("the index of %s does not parse: %w", repoURL, err)
	}
	picked, ref, ok := idx.find(name, version)
	if !ok {
		var have []string
		for _, e := range idx.Entries[name] {
			have = append(have, e.Version)
		}
		return "", "", noVersion(name, version, repoURL, have)
	}
	return picked, ref, nil
}

// index is what the renderer reads of a Helm repository's index.yaml.
type index struct {
	Entries map[string][]struct {
		Version string   `json:"version"`
		URLs    []string `json:"urls"`
	} `json:"entries"`
}

// find returns the newest version of name that version (exact or a semver
// range; empty for any) allows, as Helm picks it, and its archive's URL.
func (i index) find(name, version string) (string, string, bool) {
	c, err := semver.NewConstraint(version)
	if version == "" {
		c, err = semver.NewConstraint("*")
	}
	var best *semver.Version
	picked, url := "", ""
	for _, e := range i.Entries[name] {
		v, verr := semver.NewVersion(e.Version)
		if verr != nil || len(e.URLs) == 0 {
			continue
		}
		if err != nil {
			if e.Version == version {
				return e.Version, e.URLs[0], true
			}
			continue
		}
		if c.Check(v) && (best == nil || v.GreaterThan(best)) {
			best, picked, url = v, e.Version, e.URLs[0]
		}
	}
	return picked, url, url != ""
}

func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u, err := b.Parse(ref)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// statusError is an answer other than 200 OK.
type statusError struct {
	url, status string
	code        int
}

func (e *statusError) Error() string { return e.url + ": " + e.status }

func (r *Renderer) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{url: u, status: resp.Status, code: resp.StatusCode}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDownload {
		return nil, fmt.Errorf("%s is larger than %d MB", u, maxDownload>>20)
	}
	return b, nil
}

// ManifestNames: the rendered files that hold manifests (.yaml, .yml), in
// name order; NOTES.txt and the like are left out.
func ManifestNames(rendered map[string]string) []string {
	var names []string
	for n := range rendered {
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Decode reads the objects of one rendered file, skipping empty documents;
// on a parse error it returns the objects before it as well.
func Decode(text string) ([]map[string]any, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var out []map[string]any
	for {
		obj := map[string]any{}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(obj) > 0 {
			out = append(out, obj)
		}
	}
}
