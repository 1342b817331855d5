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
