// Package github is the GitHub forge: go-githubapp receives and verifies the
// webhooks, go-github talks to the REST API of one installation.
package github

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Client is the forge for one installation.
type Client struct {
	gh *github.Client
}

// NewClient wraps an installation client.
func NewClient(gh *github.Client) *Client { return &Client{gh: gh} }

var _ forge.Forge = (*Client)(nil)

func status(resp *github.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func notFound(resp *github.Response, err error, what string) error {
	if status(resp) == http.StatusNotFound {
		return fmt.Errorf("%s: %w", what, forge.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *Client) ReadFile(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	file, _, resp, err := c.gh.Repositories.GetContents(ctx, r.Owner, r.Name, path, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, notFound(resp, err, path)
	}
	if file == nil || file.GetType() != "file" {
		return nil, fmt.Errorf("%s is not a file: %w", path, forge.ErrNotFound)
	}
	if file.GetEncoding() == "none" {
		// Files over 1 MB come without content; the blob API serves them.
		blob, resp, err := c.gh.Git.GetBlob(ctx, r.Owner, r.Name, file.GetSHA())
		if err != nil {
			return nil, notFound(resp, err, path)
		}
		return base64.StdEncoding.DecodeString(strings.ReplaceAll(blob.GetContent(), "\n", ""))
	}
	s, err := file.GetContent()
	return []byte(s), err
}

func (c *Client) ListFiles(ctx context.Context, r forge.Repo, ref, dir string) ([]string, error) {
	tree, resp, err := c.gh.Git.GetTree(ctx, r.Owner, r.Name, ref, true)
	if err != nil {
		return nil, notFound(resp, err, "tree "+ref)
	}
	if tree.GetTruncated() {
		return nil, fmt.Errorf("the tree of %s at %s is too large for one listing", r.FullName(), ref)
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out []string
	for _, e := range tree.Entries {
		if e.GetType() == "blob" && (dir == "" || strings.HasPrefix(e.GetPath(), prefix)) {
			out = append(out, e.GetPath())
		}
	}
	return out, nil
}

func (c *Client) Permission(ctx context.Context, r forge.Repo, user string) (forge.Permission, error) {
	lvl, resp, err := c.gh.Repositories.GetPermissionLevel(ctx, r.Owner, r.Name, user)
	if status(resp) == http.StatusNotFound {
		return forge.PermNone, nil
	}
	if err != nil {
		return forge.PermNone, fmt.Errorf("permission of %s: %w", user, err)
	}
	// permission is the legacy base role (maintain reads as write); role_name
	// keeps the finer level where GitHub sends it.
	for _, s := range []string{lvl.GetRoleName(), lvl.GetPermission()} {
		if p, err := forge.ParsePermission(s); err == nil {
			return p, nil
		}
	}
	return forge.PermNone, nil
}

func (c *Client) TeamMember(ctx context.Context, _ forge.Repo, team, user string) (bool, error) {
	org, slug, _ := strings.Cut(team, "/")
	m, resp, err := c.gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, user)
	if status(resp) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s: %w", user, team, err)
	}
	return m.GetState() == "active", nil
}

func (c *Client) React(ctx context.Context, r forge.Repo, ref forge.CommentRef, reaction string) (bool, error) {
	_, resp, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, r.Owner, r.Name, ref.ID, reaction)
	if err != nil {
		return false, fmt.Errorf("reacting: %w", err)
	}
	// 200 means this reaction was already there: the comment was seen before.
	return status(resp) == http.StatusCreated, nil
}

// replyMarker hides the reply's key in its body, so the next reply with the
// same key finds and edits it.
func replyMarker(key string) string { return "<!-- gitops-bot:reply:" + key + " -->" }

func (c *Client) Reply(ctx context.Context, r forge.Repo, m forge.Reply) error {
	body := m.Body
	if m.Key != "" {
		body += "\n\n" + replyMarker(m.Key)
		if !m.New {
			id, err := c.findReply(ctx, r, m.Thread, replyMarker(m.Key))
			if err != nil {
				return err
			}
			if id != 0 {
				_, _, err := c.gh.Issues.EditComment(ctx, r.Owner, r.Name, id, &github.IssueComment{Body: &body})
				if err != nil {
					return fmt.Errorf("editing reply: %w", err)
				}
				return nil
			}
		}
	}
	_, _, err := c.gh.Issues.CreateComment(ctx, r.Owner, r.Name, m.Thread, &github.IssueComment{Body: &body})
	if err != nil {
		return fmt.Errorf("replying: %w", err)
	}
	return nil
}

// maxReplyPages bounds the search for an earlier reply on very long threads.
const maxReplyPages = 10

func (c *Client) findReply(ctx context.Context, r forge.Repo, thread int, marker string) (int64, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxReplyPages; page++ {
		comments, resp, err := c.gh.Issues.ListComments(ctx, r.Owner, r.Name, thread, opts)
		if err != nil {
			return 0, fmt.Errorf("listing comments: %w", err)
		}
		for _, cm := range comments {
			if strings.Contains(cm.GetBody(), marker) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, nil
}

// errIs422 tells "already exists" and other validation failures.
func errIs422(resp *github.Response) bool { return status(resp) == http.StatusUnprocessableEntity }
