package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
)

type previewOptions struct {
	repo, base, head, format string
	charts                   string
	envs                     []string
	offline                  bool
	chartTimeout             time.Duration
}

func previewCmd() *cobra.Command {
	o := &previewOptions{}
	cmd := &cobra.Command{
		Use:   "preview --base REF --head REF [flags]",
		Short: "Show what each environment will get from a change, as the pull request check shows it",
		Long: `Renders each environment at --base and at --head as Flux and Argo CD render
them and prints, for each environment whose render reads a changed file, the
preview the bot posts on a pull request: objects added, changed and removed,
images, resources, warnings and the rendered diff of each object, with every
Secret value masked. The whole of it: nothing is cut here.

--format markdown prints each check's title, summary and text; json prints
them with the objects, images, resources, warnings and annotations. The exit
status is 1 when a preview's conclusion is failure. Nothing in the
repository is run.`,
		Example: `  gitops-bot preview --base main --head my-branch
  gitops-bot preview --repo ./fleet --base origin/main --head HEAD --env staging --format json --offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPreview(cmd.Context(), cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", ".", "repository directory (a git repository)")
	f.StringVar(&o.base, "base", "", "the commit, branch or tag the change goes into (required)")
	f.StringVar(&o.head, "head", "", "the commit, branch or tag of the change (required)")
	f.StringArrayVar(&o.envs, "env", nil, "environment to preview (repeatable; default: every one the change reaches)")
	f.StringVar(&o.format, "format", "markdown", "markdown or json")
	chartFlags(f, &o.offline, &o.charts, &o.chartTimeout)
	return cmd
}

// errPreviewFailed: a preview's conclusion is failure (exit status 1).
var errPreviewFailed = errors.New("a preview failed")

func runPreview(ctx context.Context, w io.Writer, o *previewOptions) error {
	if o.base == "" || o.head == "" {
		return errors.New("give --base REF and --head REF")
	}
	if o.format != "markdown" && o.format != "json" {
		return fmt.Errorf("--format %s: want markdown or json", o.format)
	}
	bs, repoURL, err := renderSource(o.repo, o.base)
	if err != nil {
		return err
	}
	hs, _, err := renderSource(o.repo, o.head)
	if err != nil {
		return err
	}
	base, head := render.NewTree(ctx, bs, o.base), render.NewTree(ctx, hs, o.head)
	// The base's configuration says which warnings fail, as on a pull request.
	cfg, err := treeConfig(base)
	if err != nil {
		return fmt.Errorf("%s at %s: %w", ".gitops-bot.yaml", o.base, err)
	}
	specs, err := pickSpecs(head, cfg, o.envs, nil)
	if err != nil {
		return err
	}
	fail := map[string]bool{}
	for _, id := range cfg.Preview.Fail {
		fail[id] = true
	}
	r := model.New(repoURL, chartsFor(o.charts, o.offline, o.chartTimeout))
	reports, err := preview.Environments(ctx, r, r, specs, base, head, changedFiles(base, head), preview.Options{Fail: fail, Limit: 1 << 30})
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"environments": nonNil(reports)}); err != nil {
			return err
		}
	} else {
		if len(reports) == 0 {
			fmt.Fprintln(w, "No environment reads a file this change touches.")
		}
		for _, rep := range reports {
			fmt.Fprintf(w, "# %s (%s)\n\n%s\n%s\n", rep.Title, rep.Conclusion, rep.Summary, rep.Text)
		}
	}
	for _, rep := range reports {
		if rep.Conclusion == "failure" {
			return errPreviewFailed
		}
	}
	return nil
}

// changedFiles are the files that differ between the two trees.
func changedFiles(base, head *render.Tree) []string {
	seen := map[string]bool{}
	out := []string{} // not nil: nil asks for every environment
	for _, p := range append(base.Under(""), head.Under("")...) {
		if seen[p] {
			continue
		}
		seen[p] = true
		a, errA := base.Read(p)
		b, errB := head.Read(p)
		if (errA == nil) != (errB == nil) || !bytes.Equal(a, b) {
			out = append(out, p)
		}
	}
	return out
}

func nonNil(r []*preview.Report) []*preview.Report {
	if r == nil {
		return []*preview.Report{}
	}
	return r
}
