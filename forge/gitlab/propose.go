package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Propose writes every file in one Commits API request: the branch starts
// from the base and is force-replaced, so a repeated request leaves one
// commit. Then it opens the merge request, or updates the one already open
// for the branch. Calls: commit, merge request create (and, when one is
// already open, its update).
func (c *Client) Propose(ctx context.Context, r forge.Repo, ch forge.Change) (*forge.PullRequest, error) {
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	ch.Body = forge.Fit(ch.Body, forge.GitLabBodyMax)
	commit, err := c.commit(ctx, r, ch, c.known(ch.Base))
	var ge *gl.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusBadRequest && c.known(ch.Base) == nil {
		// A file guessed new exists (or the reverse): list the base and retry once.
		files, lerr := c.ListFiles(ctx, r, ch.Base, "")
		if lerr != nil {
			return nil, lerr
		}
		commit, err = c.commit(ctx, r, ch, set(files))
	}
	if err != nil {
		return nil, fmt.Errorf("committing to %s: %w", ch.Branch, err)
	}
	pr := &forge.PullRequest{Branch: ch.Branch, Head: commit.ID, Created: true}

	opts := &gl.CreateMergeRequestOptions{
		Title: &ch.Title, Description: &ch.Body, SourceBranch: &ch.Branch, TargetBranch: &ch.Base,
		RemoveSourceBranch: gl.Ptr(true),
	}
	if len(ch.Labels) > 0 {
		labels := gl.LabelOptions(ch.Labels)
		opts.Labels = &labels
	}
	mr, resp, err := c.gl.MergeRequests.CreateMergeRequest(pid(r), opts, gl.WithContext(ctx))
	if status(resp) == http.StatusConflict {
		iid, ferr := c.openMergeRequest(ctx, r, ch.Branch, err)
		if ferr != nil {
			return nil, ferr
		}
		// The branch moved; its merge request gets the request's title and marker.
		mr, _, err = c.gl.MergeRequests.UpdateMergeRequest(pid(r), iid, &gl.UpdateMergeRequestOptions{Title: &ch.Title, Description: &ch.Body}, gl.WithContext(ctx))
		pr.Created = false
	}
	if err != nil {
		err = fmt.Errorf("merge request of %s: %w", ch.Branch, err)
		if pr.Created {
			// Leave no branch without its merge request.
			if _, derr := c.gl.Branches.DeleteBranch(pid(r), ch.Branch, gl.WithContext(context.WithoutCancel(ctx))); derr != nil {
				return nil, &forge.LeftBehind{What: "branch " + ch.Branch, Err: err}
			}
		}
		return nil, err
	}
	pr.Number, pr.URL = int(mr.IID), mr.WebURL
	return pr, nil
}

// known returns the files of ref when this event listed them already.
func (c *Client) known(ref string) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, ok := c.trees[ref]
	if !ok {
		return nil
	}
	return set(files)
}

func set(files []string) map[string]bool {
	m := make(map[string]bool, len(files))
	for _, f := range files {
		m[f] = true
	}
	return m
}

// commit sends the change; exists says which paths the base has (nil: guess
// that every written file is new).
func (c *Client) commit(ctx context.Context, r forge.Repo, ch forge.Change, exists map[string]bool) (*gl.Commit, error) {
	actions := make([]*gl.CommitActionOptions, 0, len(ch.Files))
	for _, f := range ch.Files {
		a := &gl.CommitActionOptions{FilePath: gl.Ptr(f.Path)}
		switch {
		case f.Delete:
			a.Action = gl.Ptr(gl.FileDelete)
		case exists[f.Path] || f.Update:
			a.Action, a.Content = gl.Ptr(gl.FileUpdate), gl.Ptr(string(f.Content))
		default:
			a.Action, a.Content = gl.Ptr(gl.FileCreate), gl.Ptr(string(f.Content))
		}
		actions = append(actions, a)
	}
	commit, _, err := c.gl.Commits.CreateCommit(pid(r), &gl.CreateCommitOptions{
		Branch: &ch.Branch, StartBranch: &ch.Base, CommitMessage: &ch.Message, Actions: actions, Force: gl.Ptr(true),
	}, gl.WithContext(ctx))
	return commit, err
}

var mrRef = regexp.MustCompile(`!(\d+)`)

// openMergeRequest finds the open merge request of a branch: GitLab names it
// in its 409 answer; otherwise it is looked up.
func (c *Client) openMergeRequest(ctx context.Context, r forge.Repo, branch string, conflict error) (int64, error) {
	if m := mrRef.FindStringSubmatch(fmt.Sprint(conflict)); m != nil {
		return strconv.ParseInt(m[1], 10, 64)
	}
	mrs, _, err := c.gl.MergeRequests.ListProjectMergeRequests(pid(r), &gl.ListProjectMergeRequestsOptions{
		SourceBranch: &branch, State: gl.Ptr("opened"),
	}, gl.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("finding the merge request of %s: %w", branch, err)
	}
	if len(mrs) == 0 {
		return 0, fmt.Errorf("merge request of %s: %w (%v)", branch, errNoMR, conflict)
	}
	return mrs[0].IID, nil
}

// Pull reads a merge request.
func (c *Client) Pull(ctx context.Context, r forge.Repo, number int) (forge.PullInfo, error) {
	mr, resp, err := c.gl.MergeRequests.GetMergeRequest(pid(r), int64(number), nil, gl.WithContext(ctx))
	if err != nil {
		return forge.PullInfo{}, wrap(resp, err, fmt.Sprintf("merge request !%d", number))
	}
	sha := mr.MergeCommitSHA
	if sha == "" {
		sha = mr.SquashCommitSHA // a squash merge without a merge commit
	}
	return forge.PullInfo{Number: int(mr.IID), Merged: mr.State == "merged", MergeSHA: sha, Base: mr.TargetBranch, Body: mr.Description, Head: mr.SHA}, nil
}

// MergedPulls lists recently merged merge requests.
func (c *Client) MergedPulls(ctx context.Context, r forge.Repo, n int) ([]forge.PullInfo, error) {
	mrs, _, err := c.gl.MergeRequests.ListProjectMergeRequests(pid(r), &gl.ListProjectMergeRequestsOptions{
		State: gl.Ptr("merged"), OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("desc"), ListOptions: gl.ListOptions{PerPage: int64(min(n, 100))},
	}, gl.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing merged merge requests: %w", err)
	}
	var out []forge.PullInfo
	for _, m := range mrs {
		sha := m.MergeCommitSHA
		if sha == "" {
			sha = m.SquashCommitSHA
		}
		out = append(out, forge.PullInfo{Number: int(m.IID), Merged: true, MergeSHA: sha, Base: m.TargetBranch, Body: m.Description})
	}
	return out, nil
}

// FirstParent reads a commit's first parent.
func (c *Client) FirstParent(ctx context.Context, r forge.Repo, sha string) (string, error) {
	commit, resp, err := c.gl.Commits.GetCommit(pid(r), sha, nil, gl.WithContext(ctx))
	if err != nil {
		return "", wrap(resp, err, "commit "+sha)
	}
	if len(commit.ParentIDs) == 0 {
		return "", fmt.Errorf("commit %s has no parent", sha)
	}
	return commit.ParentIDs[0], nil
}

// PullFiles lists the paths a merge request changes.
func (c *Client) PullFiles(ctx context.Context, r forge.Repo, number int) ([]string, error) {
	var out []string
	opts := &gl.ListMergeRequestDiffsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	for page := 0; page < maxTreePages; page++ {
		diffs, resp, err := c.gl.MergeRequests.ListMergeRequestDiffs(pid(r), int64(number), opts, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(resp, err, fmt.Sprintf("changes of !%d", number))
		}
		for _, d := range diffs {
			out = append(out, d.NewPath)
			if d.OldPath != d.NewPath && d.OldPath != "" {
				out = append(out, d.OldPath)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}
