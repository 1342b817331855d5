// Package chartrendertest serves charts as a Helm repository on localhost.
package chartrendertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Repo is a Helm repository served on localhost.
type Repo struct {
	*httptest.Server
	Fetched atomic.Int64 // chart archives served
}

// URL is the repository's URL, as a HelmRepository gives it.
func (r *Repo) URL() string { return r.Server.URL + "/charts" }

// Chart is a chart with a values.yaml and templates (name -> content).
func Chart(name, version, values string, templates map[string]string) *chart.Chart {
	c := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: name, Version: version},
		Raw:      []*chart.File{{Name: "values.yaml", Data: []byte(values)}},
	}
	for n, t := range templates {
		c.Templates = append(c.Templates, &chart.File{Name: "templates/" + n, Data: []byte(t)})
	}
	return c
}

// Serve packages charts and serves them with an index.
func Serve(t testing.TB, charts ...*chart.Chart) *Repo {
	t.Helper()
	dir := t.TempDir()
	var index strings.Builder
	index.WriteString("apiVersion: v1\nentries:\n")
	byName := map[string][]*chart.Chart{}
	for _, c := range charts {
		if _, err := chartutil.Save(c, dir); err != nil {
			t.Fatal(err)
		}
		byName[c.Name()] = append(byName[c.Name()], c)
	}
	for name, cs := range byName {
		fmt.Fprintf(&index, "  %s:\n", name)
		for _, c := range cs {
			fmt.Fprintf(&index, "  - name: %s\n    version: %s\n    urls: [%s-%s.tgz]\n", name, c.Metadata.Version, name, c.Metadata.Version)
		}
	}
	r := &Repo{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/charts/index.yaml" {
			w.Write([]byte(index.String()))
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(req.URL.Path)))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		r.Fetched.Add(1)
		w.Write(b)
	}))
	t.Cleanup(r.Close)
	return r
}
