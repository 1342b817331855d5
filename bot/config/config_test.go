package config

import (
	"reflect"
	"testing"
)

// A merge that touches two environments sharing a cluster verifies each on
// its own files and the shared ones, never on the other's.
func TestEnvironmentFiles(t *testing.T) {
	files := []string{"clusters/staging/podinfo.yaml", "clusters/production/podinfo.yaml", "apps/base/podinfo/release.yaml"}
	implicit, err := Parse([]byte("provider: flux\n"))
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := Parse([]byte(`
environments:
  - {name: staging, dir: envs/stage}
  - {name: production, dir: envs/prod}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		cfg   *Config
		files []string
		env   string
		want  []string
	}{
		{"implicit staging", implicit, files, "staging", []string{"clusters/staging/podinfo.yaml", "apps/base/podinfo/release.yaml"}},
		{"implicit production", implicit, files, "production", []string{"clusters/production/podinfo.yaml", "apps/base/podinfo/release.yaml"}},
		{"explicit", explicit, []string{"envs/stage/a.yaml", "envs/prod/a.yaml", "clusters/staging/x.yaml"}, "production",
			[]string{"envs/prod/a.yaml", "clusters/staging/x.yaml"}},
		{"only another's files", implicit, []string{"clusters/production/podinfo.yaml"}, "staging", nil},
	} {
		if got := c.cfg.EnvironmentFiles(c.env, c.files); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
