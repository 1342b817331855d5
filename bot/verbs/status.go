package verbs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

func init() { command.Register(func() command.Verb { return &status{} }) }

// status is "/status APP [--env ENV]": per environment, what the
// repository pins and what the cluster runs, read-only.
type status struct{ env string }

func (*status) Spec() command.Spec {
	return command.Spec{Name: "status", Args: "APP",
		Summary: "show what an application runs in each environment: the versions the repository pins, and whether the cluster applied them and is healthy",
		Description: "Reads the default branch and the Argo CD and Flux objects the bot already watches; it changes nothing. " +
			"A cluster row names the object that applies the application, the revision it applied, what it runs (an Application's images, a HelmRelease's chart, the images of the Deployment a Kustomization applies) and its sync and health.",
		Examples: []string{"/status frontend", "/status frontend --env production"}}
}

func (s *status) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&s.env, "env", "", "only this `ENV` (default: every environment)")
}

func (s *status) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(s, req.Args, 1, 1); err != nil {
		return command.Result{}, err
	}
	app := req.Args[0]
	if err := checkName("APP", app, 253); err != nil {
		return command.Result{}, errs.Usage("%v", err)
	}
	envs, err := s.environments(ctx, req, app)
	if err != nil {
		return command.Result{}, err
	}
	if len(envs) == 0 {
		return command.Result{}, errs.Invalid("this repository has no environments: `.gitops-bot.yaml` lists none, and `clusters/` has no directory")
	}
	w := req.Workloads()
	var rows []string
	found := false
	for _, env := range envs {
		t, pins, err := w.Pins(ctx, app, env)
		var ew *workload.Elsewhere
		switch {
		case errors.As(err, &ew):
			rows = append(rows, row(env.Name, "applied from "+md.Code(ew.URL)+" by "+md.Code(ew.Owner), "", "", "", ""))
			found = true
			continue
		case errs.KindOf(err) == errs.KindInvalid:
			rows = append(rows, row(env.Name, errs.Message(err), "", "", "", "")) // not there, or ambiguous: as the day-2 verbs say
			continue
		case err != nil:
			return command.Result{}, err
		}
		found = true
		pinned := pinsText(pins, t)
		for _, c := range clusterRows(ctx, req, app, env, t) {
			rows = append(rows, row(env.Name, pinned, c.where, c.runs, c.sync, c.health))
		}
	}
	if !found {
		return command.Result{}, errs.Invalid("%s is in no environment of this repository", md.Code(app))
	}
	body := fmt.Sprintf("Status of %s, from the default branch and the clusters:\n\n| Environment | The repository pins | Applied by | Runs | Synced | Healthy |\n| --- | --- | --- | --- | --- | --- |\n%s",
		md.Code(app), strings.Join(rows, "\n"))
	return command.Result{Body: body}, nil
}

// environments are --env's, the listed ones, or without a list (the
// default layout) the directories under clusters/.
func (s *status) environments(ctx context.Context, req *command.Request, app string) ([]config.Environment, error) {
	if s.env != "" {
		e, err := appEnv(req, app, s.env)
		return []config.Environment{e}, err
	}
	if req.Config.ListsEnvironments() {
		return req.Config.Environments, nil
	}
	files, err := req.Files.Under(ctx, "clusters")
	if err != nil {
		return nil, err
	}
	var envs []config.Environment
	for _, name := range req.Config.TouchedEnvironments(files) {
		if e, err := req.Config.Environment(name); err == nil {
			envs = append(envs, e)
		}
	}
	return envs, nil
}

// row is a table row: the environment, then cells of markdown.
func row(env string, cells ...string) string {
	out := []string{md.Code(env)}
	for _, c := range cells {
		out = append(out, strings.NewReplacer("|", `\|`, "\n", " ").Replace(c))
	}
	return "| " + strings.Join(out, " | ") + " |"
}

func pinsText(pins []workload.Version, t workload.Target) string {
	if len(pins) == 0 {
		return "no version pinned, in " + md.Code(t.Path)
	}
	var parts []string
	for _, p := range pins {
		parts = append(parts, p.Label+" "+md.Code(p.Value))
	}
	return strings.Join(parts, "<br>") + "<br>in " + md.Code(t.Path)
}

// clusterRow is one GitOps object applying the application.
type clusterRow struct{ where, runs, sync, health string }

// clusterRows reads, from the informer caches, the objects that apply the
// application in env's cluster and what each says.
func clusterRows(ctx context.Context, req *command.Request, app string, env config.Environment, t workload.Target) []clusterRow {
	name := env.Cluster
	if name == "" {
		name = "default"
	}
	if req.Owners == nil || req.Objects == nil {
		return []clusterRow{{where: "no cluster is configured on the bot"}}
	}
	owners, err := req.Owners.Owners(ctx, env.Cluster, "Deployment", app)
	var ng *cluster.NotGitOps
	switch {
	case errors.As(err, &ng):
		return []clusterRow{{where: "cluster " + md.Code(name) + ": not managed by GitOps (" + ng.Error() + ")"}}
	case err != nil:
		return []clusterRow{{where: "cluster " + md.Code(name) + " cannot be read: " + errs.Message(err)}}
	}
	var out []clusterRow
	for _, o := range owners {
		if o.RepoURL != "" && !providers.SameRepo(o.RepoURL, req.Repo.CloneURL) || !applies(o, t.Path) {
			continue // another environment's, or another repository's
		}
		r := clusterRow{where: o.Ref.Kind + " " + md.Code(refName(o.Ref)) + " in " + md.Code(name)}
		if o.Revision != "" {
			r.where += " at " + md.Code(shortRevision(o.Revision))
		}
		obj, err := req.Objects.Object(ctx, env.Cluster, o.Ref)
		if err != nil || obj == nil {
			r.sync = "unknown (" + md.Code(o.Ref.Kind) + " not in the cache)"
			out = append(out, r)
			continue
		}
		var ob providers.Observation
		if o.Ref.Kind == "Application" {
			ob = argocd.Observe(obj, req.Repo.CloneURL)
		} else {
			ob = flux.Observe(obj)
		}
		running := providers.Runs(obj)
		if len(running) == 0 && o.Ref.Kind == "Kustomization" && o.WorkloadNamespace != "" {
			// A Kustomization's status does not say: the Deployment does.
			running, _ = req.Objects.Images(ctx, env.Cluster, o.WorkloadNamespace, app)
		}
		var runs []string
		for _, x := range running {
			runs = append(runs, md.Code(x))
		}
		r.runs = strings.Join(runs, "<br>")
		r.sync, r.health = mark(ob, ob.Sync), mark(ob, ob.Health)
		if ob.Message != "" && !ob.Ready {
			r.health += ": " + md.Clip(ob.Message, 200)
		}
		if ob.Suspended != "" {
			r.sync += " (suspended: " + ob.Suspended + ")"
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return []clusterRow{{where: "nothing in cluster " + md.Code(name) + " applies it from this repository"}}
	}
	return out
}

// applies: the owner applies the file (its path is an ancestor of it),
// or does not say where it reads from.
func applies(o cluster.Owner, file string) bool {
	p := strings.Trim(strings.TrimPrefix(o.Path, "./"), "/")
	return p == "" || p == "." || file == p || strings.HasPrefix(file, p+"/")
}

func refName(r providers.Ref) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// shortRevision shortens a commit in a revision string ("main@sha1:<sha>").
func shortRevision(rev string) string {
	if sha := providers.RevisionSHA(rev); sha != "" {
		return strings.Replace(rev, sha, sha[:7], 1)
	}
	return rev
}

func mark(o providers.Observation, s string) string {
	switch {
	case o.Ready:
		return "✅ " + s
	case o.Failed:
		return "❌ " + s
	}
	return "⏳ " + s
}
