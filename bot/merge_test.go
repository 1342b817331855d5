package bot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	syncpkg "github.com/gitops-bot/gitops-bot/sync/verify"
)

type recordingVerifier struct {
	mu   sync.Mutex
	reqs []syncpkg.Request
}

func (v *recordingVerifier) Start(_ context.Context, r syncpkg.Request) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reqs = append(v.reqs, r)
	return nil
}

const mergeSHA = "1111111111111111111111111111111111111111"

// A bot pull request, opened by /deploy to two environments, then merged.
func mergedBotPull(t *testing.T, f *forgetest.Fake) forge.PullInfo {
	t.Helper()
	handle(t, f, comment(1, "alice", podinfo+" --env production"))
	body := f.Proposals()[0].Body
	return forge.PullInfo{Number: 100, Merged: true, MergeSHA: mergeSHA, Base: "main", Body: body}
}

func TestMergeOfBotPullVerifiesItsEnvironments(t *testing.T) {
	f := newFake(map[string]string{config.Path: "verifyTimeout: 3m\nenvironments:\n- {name: staging}\n- {name: production, cluster: prod-eu}\n"})
	pr := mergedBotPull(t, f)
	f.ChangedFiles = map[int][]string{100: {"clusters/staging/podinfo.yaml", "clusters/production/podinfo.yaml"}}
	v := &recordingVerifier{}
	b := New(quiet)
	b.Verifier = v
	if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: repo, Pull: pr}); err != nil {
		t.Fatal(err)
	}
	if len(v.reqs) != 2 {
		t.Fatalf("requests = %+v", v.reqs)
	}
	st, prod := v.reqs[0], v.reqs[1]
	if st.Env != "staging" || prod.Env != "production" || prod.Cluster != "prod-eu" || st.SHA != mergeSHA || st.PR != 100 ||
		st.Provider != "flux" || st.Timeout != 3*time.Minute || len(st.Files) != 2 {
		t.Errorf("requests = %+v", v.reqs)
	}
	if len(st.Objects) != 2 || st.Objects[1].Kind != "HelmRelease" || st.Objects[1].Namespace != "flux-system" {
		t.Errorf("objects = %+v", st.Objects)
	}
}

func TestMergeOfOtherPulls(t *testing.T) {
	other := forge.PullInfo{Number: 5, Merged: true, MergeSHA: mergeSHA, Body: "a person's change"}
	for name, c := range map[string]struct {
		config string
		want   string
	}{
		"not asked":                       {"", ""},
		"asked, default layout":           {"verifyAllMerges: true\n", "staging"},
		"asked, environments from config": {"verifyAllMerges: true\nenvironments:\n- {name: stage, dir: envs/stage}\n- {name: staging, dir: envs/staging}\n", "staging"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(map[string]string{config.Path: c.config})
			files := []string{"clusters/staging/web.yaml", "README.md"}
			if strings.Contains(c.config, "envs/") {
				files = []string{"envs/staging/web.yaml"}
			}
			f.ChangedFiles = map[int][]string{5: files}
			v := &recordingVerifier{}
			b := New(quiet)
			b.Verifier = v
			if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: repo, Pull: other}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range v.reqs {
				got = append(got, r.Env)
				if len(r.Objects) != 0 {
					t.Errorf("objects for an unmarked pull request: %+v", r.Objects)
				}
			}
			if strings.Join(got, ",") != c.want {
				t.Errorf("environments %v, want %q", got, c.want)
			}
		})
	}
}

func TestMergeWithBrokenMarkerOrConfig(t *testing.T) {
	f := newFake(map[string]string{config.Path: "verifyAllMerges: true\n"})
	f.ChangedFiles = map[int][]string{5: {"clusters/staging/web.yaml"}}
	v := &recordingVerifier{}
	b := New(quiet)
	b.Verifier = v
	pr := forge.PullInfo{Number: 5, Merged: true, MergeSHA: mergeSHA, Body: "<!-- gitops-bot:marker {not json -->"}
	if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: repo, Pull: pr}); err != nil {
		t.Fatal(err)
	}
	if len(v.reqs) != 1 || !strings.Contains(f.Replies()[0].Body, "could not read the gitops-bot marker") {
		t.Errorf("requests %+v, replies %+v", v.reqs, f.Replies())
	}

	f = newFake(map[string]string{config.Path: "provider: jenkins\n"})
	v = &recordingVerifier{}
	b.Verifier = v
	if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: repo, Pull: pr}); err != nil {
		t.Fatal(err)
	}
	if rs := f.Replies(); len(v.reqs) != 0 || !strings.Contains(rs[len(rs)-1].Body, "provider \"jenkins\"") {
		t.Errorf("requests %+v, replies %+v", v.reqs, f.Replies())
	}
}

func TestVerifyCommand(t *testing.T) {
	f := newFake(map[string]string{config.Path: "environments:\n- {name: staging}\n- {name: production}\n"})
	pr := mergedBotPull(t, f)
	f.Pulls = map[int]forge.PullInfo{100: pr, 101: {Number: 101}}
	f.ChangedFiles = map[int][]string{100: {"clusters/staging/podinfo.yaml", "clusters/production/podinfo.yaml"}}
	v := &recordingVerifier{}
	b := New(quiet)
	b.Verifier = v
	ev := comment(50, "alice", "/verify --env production")
	ev.Thread, ev.IsPR = 100, true
	if err := b.HandleComment(context.Background(), f, ev); err != nil {
		t.Fatal(err)
	}
	if len(v.reqs) != 1 || v.reqs[0].Env != "production" {
		t.Errorf("requests = %+v", v.reqs)
	}
	reply := f.Replies()[len(f.Replies())-1].Body
	if !strings.Contains(reply, "`gitops-bot/sync: production`") {
		t.Errorf("reply = %q", reply)
	}

	ev = comment(51, "alice", "/verify")
	ev.Thread, ev.IsPR = 101, true
	b.HandleComment(context.Background(), f, ev)
	if reply := f.Replies()[len(f.Replies())-1].Body; !strings.Contains(reply, "not merged yet") {
		t.Errorf("unmerged: %q", reply)
	}
	ev = comment(52, "alice", "/verify")
	b.HandleComment(context.Background(), f, ev)
	if reply := f.Replies()[len(f.Replies())-1].Body; !strings.Contains(reply, "comment /verify on the merged pull request") {
		t.Errorf("on an issue: %q", reply)
	}
	ev = comment(53, "rita", "/verify")
	ev.Thread, ev.IsPR = 100, true
	b.HandleComment(context.Background(), f, ev)
	if len(v.reqs) != 1 {
		t.Error("a reader started a verification")
	}
}
