package verify

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

func TestCheckOutputStaysWithinGitHubsLimit(t *testing.T) {
	st := &State{Request: Request{SHA: shaM, Env: "staging", PR: 3, Timeout: time.Minute}}
	var results []Result
	for i := 0; i < 500; i++ {
		results = append(results, Result{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"},
			Verdict: Failed, Message: strings.Repeat("é|\n", 400)})
	}
	c := check(st, Failed, results, "default", "")
	if len(c.Summary) > maxOutput || !utf8.ValidString(c.Summary) || !strings.HasSuffix(c.Summary, "(truncated)") {
		t.Errorf("summary of %d bytes, valid UTF-8 %v", len(c.Summary), utf8.ValidString(c.Summary))
	}
	if strings.Count(strings.SplitN(c.Summary, "\n| ❌", 3)[1], "\n") != 0 {
		t.Error("a message broke out of its table row")
	}
	if c.Status != "completed" || c.Conclusion != "failure" || c.Name != "gitops-bot/sync: staging" || c.ExternalID != "pr/3/env/staging" {
		t.Errorf("check = %+v", c)
	}
}

func TestStoreKeepsUnreadableEntriesAside(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	good := &State{Request: Request{Repo: forge.Repo{Host: "github", Owner: "a", Name: "b"}, SHA: shaM, Env: "staging"}}
	if err := s.Put(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte("broken"), []byte("{not json")) })
	all, err := s.All(context.Background())
	if len(all) != 1 || all[0].Request.Key() != good.Request.Key() || err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("All = %d states, err %v", len(all), err)
	}
	s.Close()
	// A second bot on the same directory is refused, not blocked forever.
	s1, _ := OpenStore(dir)
	defer s1.Close()
	if _, err := OpenStore(dir); err == nil {
		t.Error("two stores opened the same file")
	}
}

func TestStartNeedsShaAndEnv(t *testing.T) {
	v := New(Options{})
	if err := v.Start(context.Background(), Request{Env: "x"}); err == nil {
		t.Error("a request without a merge commit was accepted")
	}
}
