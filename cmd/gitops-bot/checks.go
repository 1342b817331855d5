package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/bot/statuspage"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// startupCheck is one thing that must work before the bot is ready; its
// error names the real cause in the configuration's terms.
type startupCheck struct {
	name string
	run  func(ctx context.Context) (notes []string, err error)
	// warns: its notes are something to mend (a kind not installed), not
	// what it found working (the account it authenticated as).
	warns bool
}

// readiness is what /readyz answers: ready once every start-up check has
// passed (they run again every recheck while one fails), and not while
// stopping. Liveness does not depend on it.
type readiness struct {
	mu       sync.Mutex
	checked  bool
	problems []string
	results  []statuspage.Check // the last run of each check, for the status page
	stopping bool
}

// last is the last result of each check; none before the first run.
func (r *readiness) last() []statuspage.Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results
}

func (r *readiness) state() (ready bool, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stopping:
		return false, "stopping"
	case !r.checked:
		return false, "starting: the start-up checks are running"
	case len(r.problems) > 0:
		return false, "start-up checks failed:\n" + strings.Join(r.problems, "\n")
	}
	return true, "ready"
}

func (r *readiness) stop() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
}

// recheck is how often failed start-up checks are run again.
const recheck = 30 * time.Second

// run runs the checks until they all pass or ctx ends.
func (r *readiness) run(ctx context.Context, checks []startupCheck, log *slog.Logger, every time.Duration) {
	for {
		var problems []string
		var results []statuspage.Check
		for _, c := range checks {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			notes, err := c.run(cctx)
			cancel()
			level := slog.LevelInfo
			if c.warns {
				level = slog.LevelWarn
			}
			for _, n := range notes {
				log.Log(ctx, level, "start-up check: "+n, "check", c.name)
			}
			res := statuspage.Check{Name: c.name, OK: err == nil, Notes: notes, At: time.Now()}
			if err != nil {
				log.Error("start-up check failed; not ready", "check", c.name, "err", err.Error())
				problems = append(problems, c.name+": "+err.Error())
				res.Error = err.Error()
			}
			results = append(results, res)
		}
		r.mu.Lock()
		r.checked, r.problems, r.results = true, problems, results
		r.mu.Unlock()
		if len(problems) == 0 {
			log.Info("start-up checks passed", "checks", len(checks))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// githubCheck: the private key parses and GitHub accepts the App's JWT.
func githubCheck(cc githubapp.ClientCreator) startupCheck {
	return startupCheck{name: "github", run: func(ctx context.Context) ([]string, error) {
		client, err := cc.NewAppClient()
		if err != nil {
			return nil, fmt.Errorf("github.app.privateKey: %v (want the PEM file GitHub gave for the App, BEGIN RSA PRIVATE KEY)", err)
		}
		app, resp, err := client.Apps.Get(ctx, "")
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, errors.New("GitHub refused the App's token (401): github.app.integrationID and github.app.privateKey must belong to the same App")
		}
		if err != nil {
			return nil, fmt.Errorf("cannot reach GitHub's API as the App: %v", err)
		}
		return []string{fmt.Sprintf("authenticated as the GitHub App %s (ID %d)", app.GetSlug(), app.GetID())}, nil
	}}
}

// gitlabCheck: the token is accepted.
func gitlabCheck(api *gl.Client) startupCheck {
	return startupCheck{name: "gitlab", run: func(ctx context.Context) ([]string, error) {
		u, resp, err := api.Users.CurrentUser(gl.WithContext(ctx))
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, errors.New("GitLab refused gitlab.token (401): it is wrong, expired or revoked; the bot needs a token with the api scope")
		}
		if err != nil {
			return nil, fmt.Errorf("cannot reach GitLab's API with gitlab.token: %v", err)
		}
		return []string{"authenticated to GitLab as " + u.Username}, nil
	}}
}

// clusterCheck: the cluster answers and the bot may list every kind it
// watches that the cluster has; a kind not installed is a note (a cluster
// runs Flux or Argo CD, seldom both), none of them installed an error.
func clusterCheck(c *cluster.Cluster) startupCheck {
	name := "cluster " + c.Name
	if c.Name == "" {
		name = "default cluster"
	}
	return startupCheck{name: name, warns: true, run: func(ctx context.Context) ([]string, error) {
		var missing []string
		for _, w := range providers.Watched {
			gvr := w.GVR
			err := c.CanList(ctx, gvr)
			if errors.Is(err, cluster.ErrNotInstalled) {
				missing = append(missing, gvr.Resource+"."+gvr.Group)
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		if len(missing) == len(providers.Watched) {
			return nil, errors.New("neither Flux nor Argo CD is installed there (none of their kinds exists), so nothing can be verified")
		}
		if len(missing) > 0 {
			return []string{"not installed, not watched: " + strings.Join(missing, ", ")}, nil
		}
		return nil, nil
	}}
}
