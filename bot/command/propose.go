package command

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/schema"
	"github.com/gitops-bot/gitops-bot/render"
)

// Proposal is what a verb wants to change, before it becomes a pull request.
type Proposal struct {
	Verb, App, Provider string
	Envs                []string
	Title, Summary      string
	// Checked is what the verb looked up beyond the repository (a chart's
	// version in its repository), said in the reply as well as in Summary.
	Checked   string
	Manifests []providers.Manifest
	// Validated: the preflight already checked every object.
	Validated bool
	// Built gives objects' namespaces as the environment's build sets them
	// (by "Kind/name"), where a kustomization moves them: the marker names
	// objects as the cluster will have them.
	Built map[string]string
}

// branch is deterministic, so the same request always lands on the same
// branch and pull request.
func (p Proposal) branch(prefix string) string {
	return prefix + strings.Join(append([]string{p.Verb, p.App}, p.Envs...), "-")
}

// files encodes the manifests, checking every object against its schema
// first unless the preflight did.
func (p Proposal) files(ctx context.Context) ([]forge.File, []marker.Object, error) {
	if !p.Validated {
		if err := validate(ctx, p.Manifests); err != nil {
			return nil, nil, errs.Bug(err)
		}
	}
	files, err := Encode(p.Manifests)
	if err != nil {
		return nil, nil, errs.Bug(err)
	}
	var objs []marker.Object
	for _, m := range p.Manifests {
		for _, o := range m.Objects {
			ref := o.Ref()
			if ns, ok := p.Built[ref.Kind+"/"+ref.Name]; ok {
				ref.Namespace = ns
			}
			objs = append(objs, marker.Object{Ref: ref, Env: m.Env, Path: m.Path})
		}
	}
	return files, objs, nil
}

// Propose opens or updates the pull request (or, with /plan, shows it).
func (r *Request) Propose(ctx context.Context, p Proposal) (Result, error) {
	files, objs, err := p.files(ctx)
	if err != nil {
		return Result{}, err
	}
	mk := marker.Marker{
		Command:      r.Line,
		Requester:    r.Author,
		Provider:     p.Provider,
		Environments: p.Envs,
		Objects:      objs,
	}
	branch := p.branch(r.Config.BranchPrefix)
	if r.Branch != "" {
		branch = r.Branch
	}
	change := forge.Change{
		Branch:  branch,
		Base:    r.Repo.DefaultBranch,
		Title:   p.Title,
		Body:    r.prBody(p, objs, mk),
		Message: r.commitMessage(p.Title),
		Files:   files,
		Labels:  r.Config.Labels,
	}
	if err := change.Validate(); err != nil {
		return Result{}, errs.Invalid("%v", err)
	}
	if err := r.markUpdates(ctx, change.Files); err != nil {
		return Result{}, err
	}
	if r.Plan {
		body, err := r.planReply(ctx, change, objs, p.Checked)
		return Result{Body: body}, err
	}
	pr, err := r.Host.Propose(ctx, r.Repo, change)
	if errors.Is(err, forge.ErrNoChange) {
		return Result{Body: fmt.Sprintf("Nothing to do: %s already has exactly these files.\n\n%s", md.Code(change.Base), fileList(files))}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("opening the pull request: %w", err)
	}
	verb, result := "Opened", "opened"
	if !pr.Created {
		verb, result = "Updated", "updated"
	}
	proposalsTotal.WithLabelValues(result).Inc()
	var b strings.Builder
	link := PRLink(r.Repo, pr)
	if r.Redirected && pr.Number > 0 {
		link = r.Repo.FullName() + link // owner/repo#N links across repositories
	}
	fmt.Fprintf(&b, "%s %s: %s\n\n", verb, link, p.Title)
	if p.Checked != "" {
		b.WriteString(p.Checked + "\n\n")
	}
	for _, w := range pr.Warnings {
		fmt.Fprintf(&b, "But %s. The pull request is open; finish that by hand.\n\n", errs.Text(w))
	}
	if !pr.Created {
		fmt.Fprintf(&b, "The same request was made before, so I updated its branch %s instead of opening a second pull request.\n\n", md.Code(pr.Branch))
	}
	b.WriteString(fileList(files))
	return Result{Body: b.String(), PR: pr}, nil
}

// ProposeChange builds and validates a day-2 change of the workload
// engine, then proposes it.
func (r *Request) ProposeChange(ctx context.Context, w *workload.Repo, c workload.Change) (Result, error) {
	if err := w.Check(ctx, &c); err != nil {
		return Result{}, err
	}
	return r.Propose(ctx, Proposal{
		Verb: c.Verb, App: c.App, Envs: []string{c.Env}, Provider: r.Config.Provider,
		Title: c.Title, Summary: c.Summary, Manifests: c.Manifests, Validated: true,
	})
}

// markUpdates says which files exist on the base branch, for hosts whose
// API tells a new file from a changed one.
func (r *Request) markUpdates(ctx context.Context, files []forge.File) error {
	for i := range files {
		p, err := r.Files.Existing(ctx, files[i].Path)
		if err != nil {
			return err
		}
		files[i].Update = p != ""
	}
	return nil
}

// PRLink is "#N" ("!N" on GitLab), or the branch when the host opened no
// pull request.
func PRLink(repo forge.Repo, pr *forge.PullRequest) string {
	if pr.Number > 0 {
		return repo.PullRef(pr.Number)
	}
	return "branch " + md.Code(pr.Branch)
}

func fileList(files []forge.File) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "- %s\n", md.Code(f.Path))
	}
	return b.String()
}

func (r *Request) commitMessage(title string) string {
	if r.Origin != "" {
		return title + "\n\nOpened by gitops-bot for an alert."
	}
	return fmt.Sprintf("%s\n\nRequested by %s in %s.", title, r.Author, r.Repo.ThreadRef(r.Thread, r.IsPR))
}

func (r *Request) prBody(p Proposal, objs []marker.Object, m marker.Marker) string {
	var b strings.Builder
	if r.Origin != "" {
		fmt.Fprintf(&b, "%s\n\n%s\n\n", p.Summary, r.Origin)
	} else {
		fmt.Fprintf(&b, "%s\n\nRequested by %s in %s:\n\n%s\n\n", p.Summary, md.Mention(r.Author), r.Repo.ThreadRef(r.Thread, r.IsPR), md.CodeBlock("", r.Line))
	}
	if t := objectTable(objs); t != "" {
		b.WriteString(t + "\n")
	}
	b.WriteString("After the merge, gitops-bot checks that the cluster applied this commit and reports it as a check on the merge commit.\n\n")
	b.WriteString(m.String())
	b.WriteString("\n")
	return b.String()
}

// objectTable lists the objects a change adds; a change of existing files
// (day 2) adds none and gets no table.
func objectTable(objs []marker.Object) string {
	if len(objs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| environment | kind | namespace | name | file |\n| --- | --- | --- | --- | --- |\n")
	for _, o := range objs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", md.Cell(o.Env), o.Kind, md.Cell(o.Namespace), md.Cell(o.Name), md.Cell(o.Path))
	}
	return b.String()
}

// maxDiff keeps a /plan reply within GitHub's 65,536-character comment.
const maxDiff = 50000

// planReply shows the change: its objects and the diff against the base.
func (r *Request) planReply(ctx context.Context, c forge.Change, objs []marker.Object, checked string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for %s: %s. Nothing was opened; run the command without `/plan` to open the pull request.\n\n", md.Code(r.Line), c.Title)
	if checked != "" {
		b.WriteString(checked + "\n\n")
	}
	if t := objectTable(objs); t != "" {
		b.WriteString(t + "\n")
	}
	var diff strings.Builder
	for _, f := range c.Files {
		old, err := r.Files.Read(ctx, f.Path) // the base branch
		if err != nil && !errors.Is(err, forge.ErrNotFound) {
			return "", err
		}
		text, err := fileDiff(f, old, err == nil)
		if err != nil {
			return "", err
		}
		diff.WriteString(text)
	}
	d := diff.String()
	if len(d) > maxDiff {
		d = d[:maxDiff] + "\n... (the diff goes on; open the pull request to see all of it)\n"
	}
	b.WriteString(md.CodeBlock("diff", d))
	b.WriteString(r.planPreview(ctx, c))
	return b.String(), nil
}

// maxPlanPreview bounds the preview in a /plan reply, beside the diff.
const maxPlanPreview = 12000

// planPreview is what each environment would get from the change, as its
// pull request's preview check would say (summaries only).
func (r *Request) planPreview(ctx context.Context, c forge.Change) string {
	base := render.NewTree(ctx, r.Files, "")
	head := base.With(ctx, c.Files)
	var changed []string
	for _, f := range c.Files {
		changed = append(changed, f.Path)
	}
	charts, _ := r.Charts.(render.Charts)
	rd := model.New(r.Repo.CloneURL, charts)
	reports, err := preview.Environments(ctx, rd, rd, model.Specs(r.Config, base.Under("")), base, head, changed, preview.Options{Limit: maxPlanPreview})
	if err != nil {
		// Said, not hidden: the diff above stands, the preview does not.
		return "\n\n_No preview of what each environment would get: " + md.Escape(md.Clip(errs.Message(err), 300)) + "._\n"
	}
	if len(reports) == 0 {
		return "" // no environment renders from the changed files
	}
	var b strings.Builder
	b.WriteString("\n\n### What each environment would get\n")
	for _, rep := range reports {
		fmt.Fprintf(&b, "\n<details><summary>%s (%s)</summary>\n\n%s\n</details>\n", md.Escape(rep.Title), rep.Conclusion, rep.Summary)
	}
	return md.Clip(b.String(), maxPlanPreview)
}

// fileDiff is a unified diff of one file that `git apply` takes: a new
// file is "@@ -0,0 +1,N @@" from /dev/null, a deleted one goes to /dev/null.
func fileDiff(f forge.File, old []byte, existed bool) (string, error) {
	from, to := "a/"+f.Path, "b/"+f.Path
	if !existed {
		from, old = "/dev/null", nil
	}
	content := f.Content
	if f.Delete {
		to, content = "/dev/null", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: diffLines(old), B: diffLines(content), FromFile: from, ToFile: to, Context: 3,
	})
}

// diffLines splits text into lines that keep their "\n". difflib's own
// SplitLines adds an empty last line, which turns a new file's hunk into
// "@@ -1 +1,N @@" and makes every hunk at a file's end fail to apply.
func diffLines(text []byte) []string {
	if len(text) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(text), "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n" // no newline at the end: shown as if there were one
	return lines
}

// Encode turns manifests into files, with the bot's header on generated objects.
func Encode(ms []providers.Manifest) ([]forge.File, error) {
	out := make([]forge.File, 0, len(ms))
	for _, m := range ms {
		if m.Delete {
			out = append(out, forge.File{Path: m.Path, Delete: true})
			continue
		}
		if m.Raw != nil {
			out = append(out, forge.File{Path: m.Path, Content: m.Raw})
			continue
		}
		body, err := providers.Encode(m.Objects)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %v", m.Path, err)
		}
		out = append(out, forge.File{Path: m.Path, Content: append([]byte(providers.Header), body...)})
	}
	return out, nil
}

// validate checks every generated object against its schema.
func validate(ctx context.Context, ms []providers.Manifest) error {
	var errs []string
	for _, m := range ms {
		for _, o := range m.Objects {
			known, err := schema.ValidateAny(ctx, o)
			if !known {
				err = fmt.Errorf("no schema for %s %s", o.Ref().APIVersion, o.Ref().Kind)
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", m.Path, err))
			}
		}
	}
	sort.Strings(errs)
	if len(errs) > 0 {
		return fmt.Errorf("generated objects do not validate:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}
