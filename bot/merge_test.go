package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/forge"
)

type recordingVerifier = bottest.RecordingVerifier

const mergeSHA = bottest.MergeSHA

var mergedBotPull = bottest.MergedBotPull

func TestMergeOfBotPullVerifiesItsEnvironments(t *testing.T) {
	f := bottest.NewFake(map[string]string{config.Path: "verifyTimeout: 3m\nenvironments:\n- {name: staging}\n- {name: production, cluster: prod-eu}\n"})
	pr := mergedBotPull(t, f)
	f.ChangedFiles = map[int][]string{100: {"clusters/staging/podinfo.yaml", "clusters/production/podinfo.yaml"}}
	v := &recordingVerifier{}
	b := bot.New(bottest.Quiet)
	b.Verifier = v
	if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: bottest.Repo, Pull: pr}); err != nil {
		t.Fatal(err)
	}
	if len(v.Reqs) != 2 {
		t.Fatalf("requests = %+v", v.Reqs)
	}
	st, prod := v.Reqs[0], v.Reqs[1]
	if st.Env != "staging" || prod.Env != "production" || prod.Cluster != "prod-eu" || st.SHA != mergeSHA || st.PR != 100 ||
		st.Provider != "flux" || st.Timeout != 3*time.Minute {
		t.Errorf("requests = %+v", v.Reqs)
	}
	// Each environment waits only on its own files (and shared ones).
	if len(st.Files) != 1 || st.Files[0] != "clusters/staging/podinfo.yaml" || len(prod.Files) != 1 || prod.Files[0] != "clusters/production/podinfo.yaml" {
		t.Errorf("requests = %+v", v.Reqs)
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
			f := bottest.NewFake(map[string]string{config.Path: c.config})
			files := []string{"clusters/staging/web.yaml", "README.md"}
			if strings.Contains(c.config, "envs/") {
				files = []string{"envs/staging/web.yaml"}
			}
			f.ChangedFiles = map[int][]string{5: files}
			v := &recordingVerifier{}
			b := bot.New(bottest.Quiet)
			b.Verifier = v
			if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: bottest.Repo, Pull: other}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range v.Reqs {
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
	f := bottest.NewFake(map[string]string{config.Path: "verifyAllMerges: true\n"})
	f.ChangedFiles = map[int][]string{5: {"clusters/staging/web.yaml"}}
	v := &recordingVerifier{}
	b := bot.New(bottest.Quiet)
	b.Verifier = v
	pr := forge.PullInfo{Number: 5, Merged: true, MergeSHA: mergeSHA, Body: "<!-- gitops-bot:marker {not json -->"}
	if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: bottest.Repo, Pull: pr}); err != nil {
		t.Fatal(err)
	}
	if len(v.Reqs) != 1 || !strings.Contains(f.Replies()[0].Body, "could not read the gitops-bot marker") {
		t.Errorf("requests %+v, replies %+v", v.Reqs, f.Replies())
	}

	f = bottest.NewFake(map[string]string{config.Path: "provider: jenkins\n"})
	v = &recordingVerifier{}
	b.Verifier = v
	if err := b.HandleMerge(context.Background(), f, forge.MergeEvent{Repo: bottest.Repo, Pull: pr}); err != nil {
		t.Fatal(err)
	}
	if rs := f.Replies(); len(v.Reqs) != 0 || !strings.Contains(rs[len(rs)-1].Body, "line 1: provider: `jenkins` is not a provider") {
		t.Errorf("requests %+v, replies %+v", v.Reqs, f.Replies())
	}
}
