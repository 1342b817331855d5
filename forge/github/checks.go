package github

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-github/v66/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Report creates or updates a check run. A check with ID 0 is first looked
// up by name and external ID on the commit, so a verification resumed after
// a crash between "create" and "remember the ID" does not open a second one.
func (c *Client) Report(ctx context.Context, r forge.Repo, sha string, ch forge.Check) (forge.Check, error) {
	o, n := r.Owner, r.Name
	if ch.ID == 0 {
		runs, _, err := c.gh.Checks.ListCheckRunsForRef(ctx, o, n, sha, &github.ListCheckRunsOptions{
			CheckName: &ch.Name, Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: 100},
		})
		if err != nil {
			return ch, fmt.Errorf("looking for check %q: %w", ch.Name, err)
		}
		for _, run := range runs.CheckRuns {
			if run.GetExternalID() == ch.ExternalID {
				ch.ID = run.GetID()
				break
			}
		}
	}
	var out *github.CheckRunOutput
	if ch.Title != "" || ch.Summary != "" {
		out = &github.CheckRunOutput{Title: &ch.Title, Summary: &ch.Summary}
		if ch.Text != "" {
			out.Text = &ch.Text
		}
		for _, a := range ch.Annotations {
			out.Annotations = append(out.Annotations, &github.CheckRunAnnotation{Path: github.String(a.Path),
				StartLine: github.Int(a.StartLine), EndLine: github.Int(a.EndLine), AnnotationLevel: github.String(a.Level), Message: github.String(a.Message)})
		}
	}
	var conclusion *string
	if ch.Status == "completed" {
		conclusion = &ch.Conclusion
	}
	var details *string
	if ch.DetailsURL != "" {
		details = &ch.DetailsURL
	}
	if ch.ID == 0 {
		run, _, err := c.gh.Checks.CreateCheckRun(ctx, o, n, github.CreateCheckRunOptions{
			Name: ch.Name, HeadSHA: sha, ExternalID: &ch.ExternalID, Status: &ch.Status,
			Conclusion: conclusion, Output: out, DetailsURL: details,
		})
		if err != nil {
			return ch, fmt.Errorf("creating check run: %w", err)
		}
		ch.ID = run.GetID()
		return ch, nil
	}
	_, _, err := c.gh.Checks.UpdateCheckRun(ctx, o, n, ch.ID, github.UpdateCheckRunOptions{
		Name: ch.Name, ExternalID: &ch.ExternalID, Status: &ch.Status, Conclusion: conclusion, Output: out, DetailsURL: details,
	})
	if err != nil {
		return ch, fmt.Errorf("updating check run %d: %w", ch.ID, err)
	}
	return ch, nil
}

// GetCheck reads a check run back.
func (c *Client) GetCheck(ctx context.Context, r forge.Repo, _ string, id int64) (forge.Check, error) {
	run, resp, err := c.gh.Checks.GetCheckRun(ctx, r.Owner, r.Name, id)
	if err != nil {
		return forge.Check{}, notFound(resp, err, fmt.Sprintf("check run %d", id))
	}
	return forge.Check{ID: run.GetID(), Name: run.GetName(), ExternalID: run.GetExternalID(), Status: run.GetStatus(), Conclusion: run.GetConclusion()}, nil
}

// Contains asks the compare API whether descendant has ancestor in its history.
func (c *Client) Contains(ctx context.Context, r forge.Repo, descendant, ancestor string) (bool, error) {
	if descendant == ancestor {
		return true, nil
	}
	cmp, resp, err := c.gh.Repositories.CompareCommits(ctx, r.Owner, r.Name, ancestor, descendant, &github.ListOptions{PerPage: 1})
	if status(resp) == http.StatusNotFound {
		return false, nil // a commit GitHub does not know (force-pushed away) contains nothing
	}
	if err != nil {
		return false, fmt.Errorf("comparing: %w", err)
	}
	// "ahead": descendant is ancestor plus commits; "identical": the same.
	return cmp.GetStatus() == "ahead" || cmp.GetStatus() == "identical", nil
}

// Pull reads a pull request.
func (c *Client) Pull(ctx context.Context, r forge.Repo, number int) (forge.PullInfo, error) {
	pr, resp, err := c.gh.PullRequests.Get(ctx, r.Owner, r.Name, number)
	if err != nil {
		return forge.PullInfo{}, notFound(resp, err, fmt.Sprintf("pull request #%d", number))
	}
	return pullInfo(pr), nil
}

func pullInfo(pr *github.PullRequest) forge.PullInfo {
	return forge.PullInfo{Number: pr.GetNumber(), Merged: pr.GetMerged(), MergeSHA: pr.GetMergeCommitSHA(), Base: pr.GetBase().GetRef(), Body: pr.GetBody(), Head: pr.GetHead().GetSHA()}
}

// maxFilePages bounds the listing: GitHub itself lists at most 3000 files.
const maxFilePages = 30

// PullFiles lists the files a pull request changes (old and new names of renames).
func (c *Client) PullFiles(ctx context.Context, r forge.Repo, number int) ([]string, error) {
	var out []string
	opts := &github.ListOptions{PerPage: 100}
	for page := 0; page < maxFilePages; page++ {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, r.Owner, r.Name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("listing files of #%d: %w", number, err)
		}
		for _, f := range files {
			out = append(out, f.GetFilename())
			if f.GetPreviousFilename() != "" {
				out = append(out, f.GetPreviousFilename())
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// MergedPulls lists recently merged pull requests (one page of recently
// closed ones).
func (c *Client) MergedPulls(ctx context.Context, r forge.Repo, n int) ([]forge.PullInfo, error) {
	prs, _, err := c.gh.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
		State: "closed", Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: min(n, 100)},
	})
	if err != nil {
		return nil, fmt.Errorf("listing merged pull requests: %w", err)
	}
	var out []forge.PullInfo
	for _, pr := range prs {
		if pr.MergedAt != nil {
			info := pullInfo(pr)
			info.Merged = true
			out = append(out, info)
		}
	}
	return out, nil
}

// FirstParent reads a commit's first parent.
func (c *Client) FirstParent(ctx context.Context, r forge.Repo, sha string) (string, error) {
	commit, resp, err := c.gh.Git.GetCommit(ctx, r.Owner, r.Name, sha)
	if err != nil {
		return "", notFound(resp, err, "commit "+sha)
	}
	if len(commit.Parents) == 0 {
		return "", fmt.Errorf("commit %s has no parent", sha)
	}
	return commit.Parents[0].GetSHA(), nil
}

// AppRepos reaches repositories by "owner/name" through the App's
// installations, for work no event started (alerts).
type AppRepos struct {
	CC     githubapp.ClientCreator
	WebURL string // where git is served (DefaultWebURL when empty)
}

// OpenRepo implements alerts.RepoOpener.
func (a AppRepos) OpenRepo(ctx context.Context, fullName string) (forge.Forge, forge.Repo, error) {
	c := &Client{cc: a.CC, webURL: a.WebURL, heads: map[string]head{}}
	return c.OpenRepo(ctx, "https://github.com/"+fullName)
}

// Connector makes installation clients from stored repositories.
type Connector struct{ CC githubapp.ClientCreator }

// Checks returns the client of the repository's installation.
func (k Connector) Checks(_ context.Context, r forge.Repo) (forge.Checks, error) {
	if r.Installation == 0 {
		return nil, fmt.Errorf("%s has no installation", r.FullName())
	}
	gh, err := k.CC.NewInstallationClient(r.Installation)
	if err != nil {
		return nil, err
	}
	return NewClient(gh), nil
}
