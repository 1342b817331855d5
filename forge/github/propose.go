package github

import (
	"context"
	"fmt"

	"github.com/google/go-github/v66/github"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/hostcall"
)

// Propose makes one commit with every file of the change through the Git
// Data API (the file contents go inline in one tree request, whatever their
// number), points the branch at it and opens the pull request, or updates
// the branch and the open pull request of an earlier, identical request.
//
// Calls for a new pull request: base head (unless this event read it
// already, or the mirror told it: TellHead), tree, commit, ref, pull,
// labels (when configured). For a
// repeated request: tree, commit, ref (refused: it exists), ref update, pull
// lookup, pull edit (only when its text changed).
func (c *Client) Propose(ctx context.Context, r forge.Repo, ch forge.Change) (*forge.PullRequest, error) {
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	ch.Body = forge.Fit(ch.Body, forge.GitHubBodyMax)
	o, n := r.Owner, r.Name
	base, err := c.branchHead(ctx, r, ch.Base)
	if err != nil {
		return nil, fmt.Errorf("reading branch %s: %w", ch.Base, err)
	}
	baseSHA, baseTree := base.commit, base.tree

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

	// A new branch cannot have an open pull request yet: creating the ref
	// first saves the pull request lookup in the common case.
	_, resp, err := c.gh.Git.CreateRef(ctx, o, n, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &head}})
	switch {
	case err == nil:
		pr, err := c.openPull(ctx, r, ch, head)
		if err != nil {
			// Leave no branch without its pull request: a person would
			// not know what it is for.
			if _, derr := c.gh.Git.DeleteRef(context.WithoutCancel(ctx), o, n, ref); derr != nil {
				return nil, &forge.LeftBehind{What: "branch " + ch.Branch, Err: err}
			}
		}
		return pr, err
	case !errIs422(resp):
		return nil, fmt.Errorf("creating branch %s: %w", ch.Branch, err)
	}
	// The branch exists: an earlier request for the same change.
	if err := c.moveBranch(ctx, r, ref, head); err != nil {
		return nil, err
	}
	open, _, err := c.gh.PullRequests.List(ctx, o, n, &github.PullRequestListOptions{
		State: "open", Head: o + ":" + ch.Branch, Base: ch.Base, ListOptions: github.ListOptions{PerPage: 1},
	})
	if err != nil {
		return nil, fmt.Errorf("looking for the open pull request of %s: %w", ch.Branch, err)
	}
	if len(open) == 0 {
		return c.openPull(ctx, r, ch, head) // its pull request was closed: open a new one
	}
	pr := open[0]
	if pr.GetTitle() != ch.Title || pr.GetBody() != ch.Body {
		if _, _, err := c.gh.PullRequests.Edit(ctx, o, n, pr.GetNumber(), &github.PullRequest{Title: &ch.Title, Body: &ch.Body}); err != nil {
			return nil, fmt.Errorf("updating pull request #%d: %w", pr.GetNumber(), err)
		}
	}
	return &forge.PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Branch: ch.Branch, Head: head}, nil
}

func (c *Client) openPull(ctx context.Context, r forge.Repo, ch forge.Change, head string) (*forge.PullRequest, error) {
	// Opened once: GitHub may open it and still answer 5xx, and a blind
	// retry would then get 422 "already exists" (and the branch would be
	// removed under the open pull request). After a failure, look for it.
	var pr *github.PullRequest
	var err error
	for try := 0; ; try++ {
		var resp *github.Response
		pr, resp, err = c.gh.PullRequests.Create(hostcall.Once(ctx), r.Owner, r.Name, &github.NewPullRequest{
			Title: &ch.Title, Head: &ch.Branch, Base: &ch.Base, Body: &ch.Body,
		})
		if err == nil || isRateLimit(err) {
			break
		}
		open, _, lerr := c.gh.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
			State: "open", Head: r.Owner + ":" + ch.Branch, Base: ch.Base, ListOptions: github.ListOptions{PerPage: 1},
		})
		if lerr == nil && len(open) > 0 {
			pr, err = open[0], nil
			break
		}
		if errIs422(resp) || try == 4 || !hostcall.Sleep(ctx, try) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening pull request: %w", err)
	}
	out := &forge.PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Branch: ch.Branch, Head: head, Created: true}
	if len(ch.Labels) > 0 {
		// The pull request exists whatever happens to its labels.
		if err := c.addLabels(ctx, r, pr.GetNumber(), ch.Labels); err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("labelling it failed: %v", err))
		}
	}
	return out, nil
}

// addLabels adds labels as GitHub's API description has it: an object
// {"labels": [...]} (go-github sends a bare array).
func (c *Client) addLabels(ctx context.Context, r forge.Repo, number int, labels []string) error {
	req, err := c.gh.NewRequest("POST", fmt.Sprintf("repos/%s/%s/issues/%d/labels", r.Owner, r.Name, number), map[string][]string{"labels": labels})
	if err != nil {
		return err
	}
	_, err = c.gh.Do(ctx, req, nil)
	return err
}

// moveBranch force-moves a bot branch: its only commit is replaced by the new one.
func (c *Client) moveBranch(ctx context.Context, r forge.Repo, ref, sha string) error {
	_, _, err := c.gh.Git.UpdateRef(ctx, r.Owner, r.Name, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &sha}}, true)
	if err != nil {
		return fmt.Errorf("updating %s: %w", ref, err)
	}
	return nil
}
