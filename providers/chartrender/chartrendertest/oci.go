package chartrendertest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Registry serves charts as an OCI registry does (the distribution API's
// reads: tags, manifests, blobs) over TLS on localhost, each chart as
// `helm push` stores it: a manifest with Helm's config and one chart
// layer.
type Registry struct {
	*httptest.Server
	Pulled atomic.Int64 // chart layers served
}

// URL is the registry repository that holds the charts, as a HelmRepository
// of type oci or an Argo CD source gives it.
func (r *Registry) URL() string {
	return "oci://" + strings.TrimPrefix(r.Server.URL, "https://") + "/charts"
}

// ServeOCI pushes charts to a registry on localhost.
func ServeOCI(t testing.TB, charts ...*chart.Chart) *Registry {
	t.Helper()
	dir := t.TempDir()
	blobs := map[string][]byte{}
	manifests := map[string][]byte{} // "name:tag"
	tags := map[string][]string{}
	layers := map[string]bool{}
	put := func(b []byte) string {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		blobs[d] = b
		return d
	}
	for _, c := range charts {
		p, err := chartutil.Save(c, dir)
		if err != nil {
			t.Fatal(err)
		}
		archive, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		config, _ := json.Marshal(c.Metadata)
		m, _ := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"config":        map[string]any{"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": put(config), "size": len(config)},
			"layers":        []any{map[string]any{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": put(archive), "size": len(archive)}},
		})
		layers[put(archive)] = true
		tag := strings.ReplaceAll(c.Metadata.Version, "+", "_")
		manifests[c.Name()+":"+tag] = m
		manifests[c.Name()+"@"+put(m)] = m
		tags[c.Name()] = append(tags[c.Name()], tag)
	}
	r := &Registry{}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := strings.TrimPrefix(req.URL.Path, "/v2/")
		switch {
		case req.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.HasSuffix(p, "/tags/list"):
			name := filepath.Base(strings.TrimSuffix(p, "/tags/list"))
			if tags[name] == nil {
				// The distribution spec's answer for a repository it lacks.
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
				return
			}
			l := append([]string{}, tags[name]...)
			sort.Strings(l)
			json.NewEncoder(w).Encode(map[string]any{"name": "charts/" + name, "tags": l})
		case strings.Contains(p, "/manifests/"):
			repo, ref, _ := strings.Cut(p, "/manifests/")
			sep := ":"
			if strings.HasPrefix(ref, "sha256:") {
				sep = "@"
			}
			m, ok := manifests[filepath.Base(repo)+sep+ref]
			if !ok {
				http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", fmt.Sprintf("sha256:%x", sha256.Sum256(m)))
			w.Header().Set("Content-Length", fmt.Sprint(len(m)))
			if req.Method != http.MethodHead {
				w.Write(m)
			}
		case strings.Contains(p, "/blobs/"):
			_, d, _ := strings.Cut(p, "/blobs/")
			b, ok := blobs[d]
			if !ok {
				http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
				return
			}
			if layers[d] && req.Method != http.MethodHead {
				r.Pulled.Add(1)
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Header().Set("Docker-Content-Digest", d)
			if req.Method != http.MethodHead {
				w.Write(b)
			}
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}
