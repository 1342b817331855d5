package forge

import "testing"

func TestThreadLinks(t *testing.T) {
	gh := Repo{Host: "github", Owner: "acme", Name: "fleet", CloneURL: "https://github.com/acme/fleet.git"}
	glab := Repo{Host: "gitlab", Owner: "group/sub", Name: "fleet", CloneURL: "https://gitlab.example/group/sub/fleet.git"}
	local := Repo{Host: "local", CloneURL: "/srv/git/fleet"}
	for _, c := range []struct {
		repo     Repo
		n        int
		pr       bool
		ref, url string
	}{
		{gh, 12, true, "#12", "https://github.com/acme/fleet/pull/12"},
		{gh, 3, false, "#3", "https://github.com/acme/fleet/issues/3"},
		{glab, 12, true, "!12", "https://gitlab.example/group/sub/fleet/-/merge_requests/12"},
		{glab, 3, false, "#3", "https://gitlab.example/group/sub/fleet/-/issues/3"},
		{local, 1, true, "#1", ""},
		{gh, 0, true, "#0", ""},
	} {
		if got := c.repo.ThreadRef(c.n, c.pr); got != c.ref {
			t.Errorf("%s %d: ref %q, want %q", c.repo.Host, c.n, got, c.ref)
		}
		if got := c.repo.ThreadURL(c.n, c.pr); got != c.url {
			t.Errorf("%s %d: url %q, want %q", c.repo.Host, c.n, got, c.url)
		}
	}
}
