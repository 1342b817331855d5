package github

import (
	"context"
	"fmt"

	"github.com/google/go-github/v66/github"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Propose makes one commit with every file of the change through the Git
// Data API (the file contents go inline in one tree request, whatever their
// number), points the branch at it and opens the pull request, or updates
// the branch and the open pull request of an earlier, identical request.
//
// Calls: branch, tree, commit, pulls list, ref create or update, pull create
// or update (skipped when unchanged), labels (new pull requests only).
func (c *Client) Propose(ctx context.Context, r forge.Repo, ch forge.Change) (*forge.PullRequest, error) {
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	o, n := r.Owner, r.Name
	base, _, err := c.gh.Repositories.GetBranch(ctx, o, n, ch.Base, 1)
	if err != nil {
		return nil, fmt.Errorf("reading branch %s: %w", ch.Base, err)
	}
	baseSHA := base.GetCommit().GetSHA()
	baseTree := base.GetCommit().GetCommit().GetTree().GetSHA()

	entries := make([]*github.TreeEntry, 0, len(ch.Files))
	for _, f := range ch.Files {
		e := &github.TreeEntry{Path: github.String(f.Path), Mode: github.String("100644"), Type: github.String("blob")}
		if !f.Delete {
			e.Content = github.String(string(f.Content))
		}
		entries = append(entries, e)
	}
	tree, _, err := c.gh.Git.CreateTree(ctx, o, n, baseTree, entries)
	if err != nil {
		return nil, fmt.Errorf("creating tree: %w", err)
	}
	if tree.GetSHA() == baseTree {
		return nil, fmt.Errorf("%s: %w", ch.Base, forge.ErrNoChange)
	}
	commit, _, err := c.gh.Git.CreateCommit(ctx, o, n, &github.Commit{
		Message: github.String(ch.Message),
		Tree:    &github.Tree{SHA: tree.SHA},
		Parents: []*github.Commit{{SHA: github.String(baseSHA)}},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("creating commit: %w", err)
	}
	head := commit.GetSHA()
	ref := "refs/heads/" + ch.Branch

	open, _, err := c.gh.PullRequests.List(ctx, o, n, &github.PullRequestListOptions{
		State: "open", Head: o + ":" + ch.Branch, Base: ch.Base, ListOptions: github.ListOptions{PerPage: 1},
	})
	if err != nil {
		return nil, fmt.Errorf("looking for an open pull request: %w", err)
	}
	if len(open) > 0 {
		if err := c.moveBranch(ctx, r, ref, head); err != nil {
			return nil, err
		}
		pr := open[0]
		if pr.GetTitle() != ch.Title || pr.GetBody() != ch.Body {
			if _, _, err := c.gh.PullRequests.Edit(ctx, o, n, pr.GetNumber(), &github.PullRequest{Title: &ch.Title, Body: &ch.Body}); err != nil {
				return nil, fmt.Errorf("updating pull request #%d: %w", pr.GetNumber(), err)
			}
		}
		return &forge.PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Branch: ch.Branch, Head: head}, nil
	}

	_, resp, err := c.gh.Git.CreateRef(ctx, o, n, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &head}})
	if errIs422(resp) {
		// The branch is left from a closed pull request: reuse it.
		err = c.moveBranch(ctx, r, ref, head)
	}
	if err != nil {
		return nil, fmt.Errorf("creating branch %s: %w", ch.Branch, err)
	}
	pr, _, err := c.gh.PullRequests.Create(ctx, o, n, &github.NewPullRequest{
		Title: &ch.Title, Head: &ch.Branch, Base: &ch.Base, Body: &ch.Body,
	})
	if err != nil {
		return nil, fmt.Errorf("opening pull request: %w", err)
	}
	if len(ch.Labels) > 0 {
		if _, _, err := c.gh.Issues.AddLabelsToIssue(ctx, o, n, pr.GetNumber(), ch.Labels); err != nil {
			return nil, fmt.Errorf("labelling pull request #%d: %w", pr.GetNumber(), err)
		}
	}
	return &forge.PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Branch: ch.Branch, Head: head, Created: true}, nil
}

// moveBranch force-moves a bot branch: its only commit is replaced by the new one.
func (c *Client) moveBranch(ctx context.Context, r forge.Repo, ref, sha string) error {
	_, _, err := c.gh.Git.UpdateRef(ctx, r.Owner, r.Name, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &sha}}, true)
	if err != nil {
		return fmt.Errorf("updating %s: %w", ref, err)
	}
	return nil
}
