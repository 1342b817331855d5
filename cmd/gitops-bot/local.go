package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitops-bot/gitops-bot/bot"
	botcmd "github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/local"
	"github.com/gitops-bot/gitops-bot/providers/flux"
)

type localOptions struct {
	repo, example, user string
	thread              int
	keep                bool
}

func localCmd() *cobra.Command {
	o := &localOptions{}
	cmd := &cobra.Command{
		Use:   "local [flags] COMMENT",
		Short: "Run a comment's commands against a git repository on disk",
		Long: `Runs the commands of COMMENT as if it had been posted on an issue of the
repository in --repo: the change is committed on a new branch of that
repository (the checked-out branch and the work tree are left alone), and the
reply and the pull request that would be opened are printed with the diff.

With --example, the repository is first created from an example fleet shipped
with gitops-bot (in a new temporary directory unless --repo names one; a
temporary directory is removed at the end unless --keep is given).

The exit status is 0 when every command succeeded and 1 otherwise.`,
		Example: `  gitops-bot local --example flux '/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2'
  gitops-bot local --repo ./fleet '/help'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.user == "" {
				o.user = os.Getenv("USER")
			}
			return runLocal(cmd, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", "", "git repository to work on (default: a new directory with --example)")
	f.StringVar(&o.example, "example", "", "create the repository from an example fleet: "+strings.Join(examples.Names(), " or "))
	f.StringVar(&o.user, "user", "", "who the comment is from (default: $USER)")
	f.IntVar(&o.thread, "thread", 1, "issue number the comment is on")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary repository made for --example, to look at its branch")
	return cmd
}

func runLocal(cmd *cobra.Command, o *localOptions, comment string) error {
	out := cmd.OutOrStdout()
	if o.repo == "" && o.example == "" {
		return fmt.Errorf("give --repo DIR, --example NAME, or both")
	}
	if o.user == "" {
		o.user = "local-user"
	}
	temporary := false
	if o.example != "" {
		src, err := examples.Fleet(o.example)
		if err != nil {
			return err
		}
		if o.repo == "" {
			if o.repo, err = os.MkdirTemp("", "gitops-bot-"+o.example+"-"); err != nil {
				return err
			}
			if !o.keep {
				temporary = true
				defer os.RemoveAll(o.repo)
			}
		}
		if _, err := os.Stat(filepath.Join(o.repo, ".git")); os.IsNotExist(err) {
			if err := local.Init(o.repo, src, examples.URL); err != nil {
				return err
			}
			fmt.Fprintf(out, "Created %s from the %s example fleet.\n\n", o.repo, o.example)
		}
	}
	where := o.repo
	if temporary {
		where = "a temporary repository, removed at the end; --keep keeps it"
	}
	f, err := local.Open(o.repo)
	if err != nil {
		return err
	}
	repo, err := f.Repo(filepath.Base(o.repo))
	if err != nil {
		return err
	}
	if repo.CloneURL == "" {
		note, err := cloneURLFromFlux(cmd.Context(), f, &repo, o.repo)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, note+"\n")
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ev := forge.CommentEvent{Repo: repo, Thread: o.thread, CommentID: 1, Body: comment, Author: o.user}
	b := bot.New(log)
	var failed []string
	ran := 0
	b.OnCommand = func(verb string, o botcmd.Outcome, _ error) {
		ran++
		if o != botcmd.OK {
			failed = append(failed, "/"+verb+" ("+string(o)+")")
		}
	}
	if err := b.HandleComment(cmd.Context(), f, ev); err != nil {
		return err
	}
	replies := f.Replies()
	if len(replies) == 0 {
		fmt.Fprintln(out, "No command in that comment: a command is a line starting with /, such as /help.")
		return nil
	}
	for _, r := range replies {
		section(out, "Reply on #"+fmt.Sprint(o.thread))
		fmt.Fprintln(out, r.Body)
	}
	for _, p := range f.Proposals() {
		state := "would be opened"
		if !p.PR.Created {
			state = "would be updated"
		}
		section(out, "Pull request that "+state)
		fmt.Fprintf(out, "Title:  %s\nBranch: %s (commit %.12s, in %s)\nBase:   %s\nLabels: %s\n\n%s\n",
			p.Change.Title, p.Change.Branch, p.PR.Head, where, p.Change.Base, strings.Join(p.Change.Labels, ", "), p.Change.Body)
		section(out, "Diff")
		fmt.Fprint(out, p.PR.Diff)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d commands did not succeed: %s (the reply above says why)", len(failed), ran, strings.Join(failed, ", "))
	}
	return nil
}

// cloneURLFromFlux gives a repository with no origin remote the URL Flux
// syncs it from (the GitRepository its Kustomizations take as their
// source), which objects pointing at the repository must carry; where
// there is none, or several, it says how to add the remote.
func cloneURLFromFlux(ctx context.Context, f *local.Forge, repo *forge.Repo, dir string) (string, error) {
	paths, err := f.ListFiles(ctx, *repo, repo.DefaultBranch, "")
	if err != nil {
		return "", err
	}
	files := map[string][]byte{}
	for _, p := range paths {
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" {
			continue
		}
		if b, err := f.ReadFile(ctx, *repo, repo.DefaultBranch, p); err == nil && len(b) <= forge.MaxFileBytes {
			files[p] = b
		}
	}
	add := fmt.Sprintf("git -C %s remote add origin URL", dir)
	switch urls := flux.SyncedFrom(files); len(urls) {
	case 1:
		repo.CloneURL = urls[0]
		return fmt.Sprintf("%s has no origin remote: using %s, the URL its Flux GitRepository syncs it from. To use another: %s", dir, urls[0], add), nil
	case 0:
		return fmt.Sprintf("%s has no origin remote, and no Flux GitRepository here syncs it: commands that write its URL into an object will refuse. Add the URL Argo CD or Flux fetches it from with: %s", dir, add), nil
	default:
		return fmt.Sprintf("%s has no origin remote, and its Flux GitRepositories sync it from several URLs (%s): commands that write its URL into an object will refuse. Add the one to use with: %s", dir, strings.Join(urls, ", "), add), nil
	}
}

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n=== %s ===\n\n", title)
}
