package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

// proposal is what a verb wants to change, before it becomes a pull request.
type proposal struct {
	verb, app, provider string
	envs                []string
	title, summary      string
	manifests           []providers.Manifest
	// validated: the preflight already checked every object.
	validated bool
}

// branch is deterministic, so the same request always lands on the same
// branch and pull request.
func (p proposal) branch(prefix string) string {
	return prefix + strings.Join(append([]string{p.verb, p.app}, p.envs...), "-")
}

// files encodes the manifests, checking every object against its schema
// first unless the preflight did.
func (p proposal) files(ctx context.Context) ([]forge.File, []MarkedObject, error) {
	if !p.validated {
		if err := validate(ctx, p.manifests); err != nil {
			return nil, nil, err
		}
	}
	files, err := encode(p.manifests)
	if err != nil {
		return nil, nil, err
	}
	var objs []MarkedObject
	for _, m := range p.manifests {
		for _, o := range m.Objects {
			objs = append(objs, MarkedObject{Ref: o.Ref(), Env: m.Env, Path: m.Path})
		}
	}
	return files, objs, nil
}

// propose opens or updates the pull request and returns the reply.
func (x *execution) propose(ctx context.Context, p proposal) (string, error) {
	files, objs, err := p.files(ctx)
	if err != nil {
		return "", err
	}
	marker := Marker{
		Command:      x.inv.Line,
		Requester:    x.event.Author,
		Provider:     p.provider,
		Environments: p.envs,
		Objects:      objs,
	}
	branch := p.branch(x.config.BranchPrefix)
	if x.branch != "" {
		branch = x.branch
	}
	change := forge.Change{
		Branch:  branch,
		Base:    x.event.Repo.DefaultBranch,
		Title:   p.title,
		Body:    x.prBody(p, objs, marker),
		Message: x.commitMessage(p.title),
		Files:   files,
		Labels:  x.config.Labels,
	}
	if err := change.Validate(); err != nil {
		return "", err
	}
	if x.plan {
		return x.planReply(ctx, change, objs)
	}
	pr, err := x.forge.Propose(ctx, x.event.Repo, change)
	if errors.Is(err, forge.ErrNoChange) {
		return fmt.Sprintf("Nothing to do: %s already has exactly these files.\n\n%s", code(change.Base), fileList(files)), nil
	}
	if err != nil {
		return "", fmt.Errorf("opening the pull request: %w", err)
	}
	x.lastPR = pr
	verb := "Opened"
	result := "opened"
	if !pr.Created {
		verb, result = "Updated", "updated"
	}
	proposalsTotal.WithLabelValues(result).Inc()
	var b strings.Builder
	link := prLink(pr)
	if x.redirected && pr.Number > 0 {
		link = x.event.Repo.FullName() + link // owner/repo#N links across repositories
	}
	fmt.Fprintf(&b, "%s %s: %s\n\n", verb, link, p.title)
	if !pr.Created {
		fmt.Fprintf(&b, "The same request was made before, so I updated its branch %s instead of opening a second pull request.\n\n", code(pr.Branch))
	}
	b.WriteString(fileList(files))
	return b.String(), nil
}

func prLink(pr *forge.PullRequest) string {
	if pr.Number > 0 {
		return fmt.Sprintf("#%d", pr.Number)
	}
	return "branch " + code(pr.Branch)
}

func fileList(files []forge.File) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "- %s\n", code(f.Path))
	}
	return b.String()
}

func (x *execution) commitMessage(title string) string {
	if x.origin != "" {
		return title + "\n\nOpened by gitops-bot for an alert."
	}
	return fmt.Sprintf("%s\n\nRequested by %s in #%d.", title, x.event.Author, x.event.Thread)
}

func (x *execution) prBody(p proposal, objs []MarkedObject, m Marker) string {
	var b strings.Builder
	if x.origin != "" {
		fmt.Fprintf(&b, "%s\n\n%s\n\n", p.summary, x.origin)
	} else {
		fmt.Fprintf(&b, "%s\n\nRequested by %s in #%d:\n\n%s\n\n", p.summary, mention(x.event.Author), x.event.Thread, codeBlock("", x.inv.Line))
	}
	b.WriteString("| environment | kind | namespace | name | file |\n| --- | --- | --- | --- | --- |\n")
	for _, o := range objs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(o.Env), o.Kind, cell(o.Namespace), cell(o.Name), cell(o.Path))
	}
	b.WriteString("\nAfter the merge, gitops-bot checks that the cluster applied this commit and reports it as a check on the merge commit.\n\n")
	b.WriteString(m.String())
	b.WriteString("\n")
	return b.String()
}
