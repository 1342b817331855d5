package config

import (
	"reflect"
	"strings"
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

// What is wrong in a repository config is told by line and key, with
// "did you mean" for a slip and no Go type names; old spellings are read.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"provider: fluxcd\n", "line 1: provider: `fluxcd` is not a provider; want flux or argocd. Did you mean `flux`?"},
		{"labels: [a]\nprovder: flux\n", "line 2: provder: unknown key. Did you mean provider? Known here:"},
		{"access:\n  minPermision: write\n", "line 2: access.minPermision: unknown key. Did you mean access.minPermission?"},
		{"access:\n  users: alice\n", "line 2: access.users: want a list, not `alice`"},
		{"verifyAllMerges: yes please\n", "line 1: verifyAllMerges: want true or false, not `yes please`"},
		{"verifyTimeout: ten minutes\n", "line 1:"},
		{"environments:\n  - name: staging\n  - name: Prod\n", "line 3: environments[1].name: environment name \"Prod\""},
		{"environments:\n  - name: staging\n    flux: {namespace: Flux}\n", "line 2: environments[0]: (staging) namespace \"Flux\""},
		{"environments: {staging: {}}\n", "line 1: environments: want a list, not a mapping"},
		{"provider: flux\nprovider: argocd\n", "line 2: provider: set twice (also on line 1)"},
		{"provider: [flux\n", "not valid YAML"},
		{"layout:\n  base: apps/{application}\n", "line 2: layout.base: layout \"apps/{application}\": unknown placeholder"},
	} {
		_, err := Parse([]byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.file, err, c.want)
			continue
		}
		for _, goType := range []string{"struct", "[]string", "config.", "int64", "!!str", "unmarshal"} {
			if strings.Contains(err.Error(), goType) {
				t.Errorf("%q: the error shows %q: %v", c.file, goType, err)
			}
		}
	}
	cfg, err := Parse([]byte("branch_prefix: bots/\nverify_all_merges: true\naccess:\n  min_permission: maintain\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BranchPrefix != "bots/" || !cfg.VerifyAllMerges || cfg.Access.MinPermission != "maintain" || len(cfg.Notes()) != 3 ||
		!strings.Contains(cfg.Notes()[0], "line 1: branch_prefix is spelled branchPrefix now") {
		t.Errorf("old spellings: %+v %q", cfg, cfg.Notes())
	}
}

// The preview's settings are checked like the rest: a warning the preview
// does not give, an environment the file does not list.
func TestPreviewConfig(t *testing.T) {
	c, err := Parse([]byte("preview:\n  fail: [privileged, rbac-widened]\n  forks: true\n"))
	if err != nil || !c.Preview.Forks || len(c.Preview.Fail) != 2 {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
	for in, want := range map[string]string{
		"preview:\n  fail: [privilegd]\n": "Did you mean `privileged`",
		"environments:\n  - {name: staging, dir: clusters/staging}\npreview:\n  environments: [stagin]\n": "Did you mean `staging`",
		"preview:\n  disabld: true\n": "disabld",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", in, err, want)
		}
	}
}
