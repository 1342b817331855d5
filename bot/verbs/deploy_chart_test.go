package verbs_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/providers/chartrender/chartrendertest"
)

// /deploy --chart asks the chart's repository or registry for the chart and
// version before it opens anything, and says what it found in the reply
// and the pull request; what the source does not have opens nothing, and a
// source it cannot reach is said to be unchecked.
func TestDeployLooksTheChartUpFirst(t *testing.T) {
	charts := []*chart.Chart{
		chartrendertest.Chart("podinfo", "6.7.0", "replicaCount: 1\n", nil),
		chartrendertest.Chart("podinfo", "6.7.1", "replicaCount: 1\n", nil),
	}
	repo := chartrendertest.Serve(t, charts...)
	reg := chartrendertest.ServeOCI(t, charts...)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	deploy := func(client *http.Client, command string) (string, int, string) {
		t.Helper()
		b := bot.New(bottest.Quiet)
		if client != nil {
			b.Charts = chartrender.New(client, 5*time.Second)
		}
		f := bottest.NewFake(nil)
		reply := bottest.HandleEvent(t, b, f, bottest.Comment(1, "alice", command))
		body := ""
		if ps := f.Proposals(); len(ps) == 1 {
			body = ps[0].Body
		}
		return reply, len(f.Proposals()), body
	}
	for _, c := range []struct {
		name    string
		client  *http.Client
		command string
		opened  bool
		want    string
	}{
		{"a range", repo.Client(), "/deploy podinfo --chart " + repo.URL() + "/podinfo --version 6.x --env staging", true,
			"Looked up: `podinfo` `6.x` is `6.7.1` in the repository's index today."},
		{"an exact version in a registry", reg.Client(), "/deploy podinfo --chart " + reg.URL() + "/podinfo --version 6.7.0 --env staging", true,
			"Looked up: `podinfo` `6.7.0` is in the registry's tags."},
		{"a version it lacks", repo.Client(), "/deploy podinfo --chart " + repo.URL() + "/podinfo --version 7.0.0 --env staging", false,
			"no version of podinfo in " + repo.URL() + " matches 7.0.0; the newest are 6.7.1, 6.7.0. Nothing was opened."},
		{"a chart it lacks", reg.Client(), "/deploy nginx --chart " + reg.URL() + "/nginx --version 1.0.0 --env staging", false,
			"has no chart"},
		{"a source nobody answers for", http.DefaultClient, "/deploy podinfo --chart " + closed.URL + "/podinfo --version 6.7.0 --env staging", true,
			"could not be reached: the connection was refused), so its version is not checked."},
		{"no chart fetching", nil, "/deploy podinfo --chart " + repo.URL() + "/podinfo --version 6.7.0 --env staging", true,
			"The chart was not looked up (this bot fetches no charts), so its version is not checked."},
	} {
		reply, opened, body := deploy(c.client, c.command)
		if opened != map[bool]int{true: 1, false: 0}[c.opened] || !strings.Contains(reply, c.want) {
			t.Errorf("%s: %d opened, reply:\n%s\nwant %q", c.name, opened, reply, c.want)
		}
		if c.opened && !strings.Contains(body, c.want) {
			t.Errorf("%s: the pull request does not say it:\n%s", c.name, body)
		}
		if strings.Contains(reply, "dial tcp") || strings.Contains(reply, "connect:") {
			t.Errorf("%s: the reply quotes the transport:\n%s", c.name, reply)
		}
	}
	if repo.Fetched.Load() != 0 || reg.Pulled.Load() != 0 {
		t.Error("a chart was downloaded to look a version up")
	}
}
