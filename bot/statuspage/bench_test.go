package statuspage

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

// BenchmarkPage renders the page of a busy bot: 1,000 pending
// verifications of three targets each and a full activity list.
func BenchmarkPage(b *testing.B) {
	repo := forge.Repo{Host: "github", Owner: "acme", Name: "fleet", CloneURL: "https://github.com/acme/fleet.git"}
	var pending []verify.State
	for i := 0; i < 1000; i++ {
		var results []verify.Result
		for j := 0; j < 3; j++ {
			results = append(results, verify.Result{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: fmt.Sprintf("app-%d", j)},
				Verdict: verify.PickedUp, Sync: "Progressing", Message: "Reconciliation in progress"})
		}
		pending = append(pending, verify.State{Request: verify.Request{Repo: repo, SHA: fmt.Sprintf("%040d", i), PR: i, Env: "staging", Timeout: 10 * time.Minute},
			Started: now, Discovered: true, Reported: verify.PickedUp, Results: results})
	}
	recent := activity.New(200)
	for i := 0; i < 200; i++ {
		recent.Add(activity.Entry{Time: now, Source: "command", Repo: "acme/fleet", What: "/set-image web ghcr.io/acme/web:1.2.3 --env staging",
			Where: "#12", WhereURL: "https://github.com/acme/fleet/issues/12", Outcome: "ok", Link: "https://github.com/acme/fleet/pull/13", LinkText: "#13"})
	}
	p := &Page{Version: "v1", Now: func() time.Time { return now }, Pending: func() []verify.State { return pending }, Activity: recent,
		Checks: func() []Check { return []Check{{Name: "github", OK: true, At: now}} }}
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size)/1024, "KiB/page")
}
