package forge

import "testing"

func TestCleanPath(t *testing.T) {
	good := map[string]string{
		"clusters/staging/a.yaml":    "clusters/staging/a.yaml",
		"./clusters//staging/a.yaml": "clusters/staging/a.yaml",
		"a/./b":                      "a/b",
		".gitops-bot.yaml":           ".gitops-bot.yaml",
		"docs/.github/x":             "docs/.github/x",
	}
	for in, want := range good {
		if got, err := CleanPath(in); err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "/etc/passwd", "../x", "a/../../x", "a/..", "../../.github/workflows/x.yml",
		".github/workflows/x.yml", ".GitHub/x", ".git/config", ".gitlab/ci.yml", "a\\b", "a\nb", "a\x00b"} {
		if got, err := CleanPath(bad); err == nil {
			t.Errorf("CleanPath(%q) = %q, want an error", bad, got)
		}
	}
}

func TestChangeValidate(t *testing.T) {
	ok := Change{Branch: "b", Base: "main", Files: []File{{Path: "a.yaml"}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Change{
		"no branch":     {Base: "main", Files: ok.Files},
		"to base":       {Branch: "main", Base: "main", Files: ok.Files},
		"no files":      {Branch: "b", Base: "main"},
		"not canonical": {Branch: "b", Base: "main", Files: []File{{Path: "./a.yaml"}}},
		"twice":         {Branch: "b", Base: "main", Files: []File{{Path: "a.yaml"}, {Path: "a.yaml"}}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
