package bot_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge/mirror"
)

// Through the mirror, /set-image and /scale ask the host's API only what
// git cannot tell: on an empty mirror and after a merge, at most 8 calls
// with labels to add, none of them a read of a file, a tree or the base
// branch (the mirror's commit is the base).
func TestMirrorCommandsCallTheHostLittle(t *testing.T) {
	rp := buildReadPath(t, 300, map[string]string{".gitops-bot.yaml": "labels: [gitops-bot]\n"})
	store, err := mirror.New(t.TempDir(), mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range []string{setImageCmd, scaleCmd, setImageCmd, "/scale web 4 --env staging"} {
		if i == 2 {
			rp.merge(i) // the mirror has to fetch
		}
		rp.forget()
		rp.gh.Reset()
		rp.run(t, store, line, i)
		var calls []string
		for _, r := range rp.gh.Requests() {
			calls = append(calls, r.Method+" "+r.Path+"?"+r.Query)
			if strings.Contains(r.Path, "/contents/") || strings.Contains(r.Path, "/git/blobs/") || r.Method == "GET" && (strings.Contains(r.Path, "/git/trees/") || strings.Contains(r.Path, "/branches/")) {
				t.Errorf("%s: a read through the API: %s %s", line, r.Method, r.Path)
			}
		}
		if len(calls) > 8 {
			t.Errorf("%s (%d): %d calls, want at most 8:\n%s", line, i, len(calls), strings.Join(calls, "\n"))
		}
		if !strings.Contains(strings.Join(calls, "\n"), "/labels") {
			t.Errorf("%s: no labels added:\n%s", line, strings.Join(calls, "\n"))
		}
	}
}
