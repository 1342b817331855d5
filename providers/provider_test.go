package providers

import "testing"

func TestParseChart(t *testing.T) {
	good := map[string]Chart{
		"https://stefanprodan.github.io/podinfo/podinfo": {RepoURL: "https://stefanprodan.github.io/podinfo", Name: "podinfo", Version: "1.0.0"},
		"https://charts.jetstack.io/cert-manager":        {RepoURL: "https://charts.jetstack.io", Name: "cert-manager", Version: "1.0.0"},
		"oci://ghcr.io/stefanprodan/charts/podinfo/":     {RepoURL: "oci://ghcr.io/stefanprodan/charts", Name: "podinfo", Version: "1.0.0"},
	}
	for in, want := range good {
		got, err := ParseChart(in, "1.0.0")
		if err != nil || got != want {
			t.Errorf("ParseChart(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"podinfo", "ftp://x/y", "https://x.io/", "oci://ghcr.io/podinfo", "https://u:p@x.io/c", "https://x.io/c?x=1", "https://x.io/c#f"} {
		if _, err := ParseChart(bad, "1.0.0"); err == nil {
			t.Errorf("ParseChart(%q) accepted", bad)
		}
	}
	if _, err := ParseChart("https://x.io/c", ""); err == nil {
		t.Error("a chart without a version was accepted")
	}
}

func TestSameRepo(t *testing.T) {
	same := [][2]string{
		{"https://github.com/acme/fleet", "https://github.com/acme/fleet.git"},
		{"https://GitHub.com/acme/fleet/", "ssh://git@github.com/acme/fleet"},
		{"git@github.com:acme/fleet.git", "https://github.com/acme/fleet"},
		{"ssh://git@github.com:22/acme/fleet.git", "https://x-token:t@github.com/acme/fleet"},
	}
	for _, p := range same {
		if !SameRepo(p[0], p[1]) {
			t.Errorf("SameRepo(%q, %q) = false", p[0], p[1])
		}
	}
	for _, p := range [][2]string{{"https://github.com/acme/fleet", "https://github.com/acme/fleet2"}, {"https://github.com/acme/fleet", "https://gitlab.com/acme/fleet"}, {"", ""}} {
		if SameRepo(p[0], p[1]) {
			t.Errorf("SameRepo(%q, %q) = true", p[0], p[1])
		}
	}
}

func TestPathContainsAndRevisionSHA(t *testing.T) {
	for _, c := range []struct {
		dir, file string
		want      bool
	}{
		{"./clusters/staging", "clusters/staging/podinfo.yaml", true},
		{"clusters/staging/", "clusters/staging/a/b.yaml", true},
		{"./", "anything.yaml", true},
		{"clusters/staging", "clusters/staging-eu/a.yaml", false},
		{"clusters/staging", "clusters/production/a.yaml", false},
	} {
		if got := PathContains(c.dir, c.file); got != c.want {
			t.Errorf("PathContains(%q, %q) = %v", c.dir, c.file, got)
		}
	}
	sha := "3f2c9a7d1e4b5c6a7b8c9d0e1f2a3b4c5d6e7f80"
	for _, rev := range []string{"main@sha1:" + sha, "sha1:" + sha, "main/" + sha, sha} {
		if got := RevisionSHA(rev); got != sha {
			t.Errorf("RevisionSHA(%q) = %q", rev, got)
		}
	}
	if RevisionSHA("6.7.0") != "" {
		t.Error("a chart version read as a commit")
	}
	for _, digest := range []string{"latest@sha256:3f2c9a7d1e4b5c6a7b8c9d0e1f2a3b4c5d6e7f803f2c9a7d1e4b5c6a7b8c9d0e", "sha256:" + sha + "abcdef0123456789abcdef01"} {
		if got := RevisionSHA(digest); got != "" {
			t.Errorf("an OCI digest read as a commit: %q from %q", got, digest)
		}
	}
}
