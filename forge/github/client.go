// Package github is the GitHub forge: go-githubapp receives and verifies the
// webhooks, go-github talks to the REST API of one installation.
package github

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	gosync "sync"

	"github.com/palantir/go-githubapp/githubapp"
	"k8s.io/utils/lru"

	"github.com/google/go-github/v66/github"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/hostcall"
)

// Client is the forge for one installation, for the handling of one event.
type Client struct {
	gh     *github.Client
	cc     githubapp.ClientCreator // to reach other installations; nil in tests
	webURL string                  // where git is served; DefaultWebURL when empty

	mu    gosync.Mutex
	heads map[string]head // branch -> its head, read once per event
	// What was read along paths, once per event.
	pathTrees treeReads
	pathFiles forge.FileReads
}

// head is a branch's commit and root tree.
type head struct{ commit, tree string }

// NewClient wraps an installation client.
func NewClient(gh *github.Client) *Client { return &Client{gh: gh, heads: map[string]head{}} }

// NewInstallationClient is the forge of an App installation, which can
// also reach the App's other installations and fetch over git from webURL
// (DefaultWebURL when empty).
func NewInstallationClient(cc githubapp.ClientCreator, installation int64, webURL string) (*Client, error) {
	gh, err := cc.NewInstallationClient(installation)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", installation, err)
	}
	c := NewClient(gh)
	c.cc, c.webURL = cc, webURL
	return c, nil
}

var _ forge.Forge = (*Client)(nil)

// OpenRepo reaches another repository of the same GitHub through the App's
// installation there.
func (c *Client) OpenRepo(ctx context.Context, url string) (forge.Forge, forge.Repo, error) {
	owner, name, ok := ownerName(url)
	if !ok || c.cc == nil {
		return nil, forge.Repo{}, fmt.Errorf("%s is not a repository the bot can reach: %w", url, forge.ErrNotFound)
	}
	app, err := c.cc.NewAppClient()
	if err != nil {
		return nil, forge.Repo{}, err
	}
	inst, resp, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return nil, forge.Repo{}, notFound(resp, err, "the App's installation on "+owner+"/"+name)
	}
	gh, err := c.cc.NewInstallationClient(inst.GetID())
	if err != nil {
		return nil, forge.Repo{}, err
	}
	repo, resp, err := gh.Repositories.Get(ctx, owner, name)
	if err != nil {
		return nil, forge.Repo{}, notFound(resp, err, owner+"/"+name)
	}
	other := &Client{gh: gh, cc: c.cc, webURL: c.webURL, heads: map[string]head{}}
	return other, forge.Repo{Host: "github", Owner: owner, Name: name, DefaultBranch: repo.GetDefaultBranch(),
		CloneURL: repo.GetCloneURL(), Installation: inst.GetID()}, nil
}

// ownerName reads owner and name from a repository URL of any form.
func ownerName(url string) (string, string, bool) {
	u := strings.TrimSuffix(strings.TrimSuffix(url, "/"), ".git")
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if at := strings.Index(u, "@"); at >= 0 {
		u = strings.Replace(u[at+1:], ":", "/", 1)
	}
	parts := strings.Split(u, "/")
	if len(parts) < 3 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", false
	}
	return parts[len(parts)-2], parts[len(parts)-1], true
}

// Trees and blobs are named by their content, so they are cached for the
// whole process: a command on an unchanged branch reads nothing twice.
var (
	treeCache = lru.New(256)  // "owner/repo@treeSHA" -> []github.TreeEntry (blobs)
	blobCache = lru.New(4096) // "owner/repo@blobSHA" -> []byte
)

// maxCachedBlob keeps large files out of the cache.
const maxCachedBlob = 256 << 10

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

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// TellHead keeps what the mirror fetched as branch's head for this event,
// so that Propose bases its commit there without reading the branch.
func (c *Client) TellHead(branch, commit, tree string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.heads[branch]; !ok {
		c.heads[branch] = head{commit: commit, tree: tree}
	}
}

// branchHead reads a branch's head (or a commit's tree) once per event.
func (c *Client) branchHead(ctx context.Context, r forge.Repo, branch string) (head, error) {
	c.mu.Lock()
	h, ok := c.heads[branch]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	if commitSHA.MatchString(branch) {
		// A commit (a pull request's base or head): its tree, once.
		cm, resp, err := c.gh.Git.GetCommit(ctx, r.Owner, r.Name, branch)
		if err != nil {
			return head{}, notFound(resp, err, "commit "+branch)
		}
		h = head{commit: branch, tree: cm.GetTree().GetSHA()}
	} else {
		b, resp, err := c.gh.Repositories.GetBranch(ctx, r.Owner, r.Name, branch, 1)
		if err != nil {
			return head{}, notFound(resp, err, "branch "+branch)
		}
		h = head{commit: b.GetCommit().GetSHA(), tree: b.GetCommit().GetCommit().GetTree().GetSHA()}
	}
	c.mu.Lock()
	c.heads[branch] = h
	c.mu.Unlock()
	return h, nil
}

// errTruncated: GitHub truncated the listing of a whole tree (over 100,000
// entries or 7 MB); reads then go along paths.
var errTruncated = errors.New("the tree is too large for one listing")

// files lists the blobs of a branch's tree: one recursive tree call, cached.
func (c *Client) files(ctx context.Context, r forge.Repo, branch string) ([]*github.TreeEntry, error) {
	h, err := c.branchHead(ctx, r, branch)
	if err != nil {
		return nil, err
	}
	key := r.FullName() + "@" + h.tree
	if v, ok := treeCache.Get(key); ok {
		return v.([]*github.TreeEntry), nil
	}
	tree, resp, err := c.gh.Git.GetTree(ctx, r.Owner, r.Name, h.tree, true)
	if err != nil {
		return nil, notFound(resp, err, "tree of "+branch)
	}
	if tree.GetTruncated() {
		return nil, errTruncated
	}
	var blobs []*github.TreeEntry
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			blobs = append(blobs, e)
		}
	}
	treeCache.Add(key, blobs)
	return blobs, nil
}

// ReadFile reads a file at a branch through the tree listing and the blob
// (both cached), or at a commit through the contents API.
func (c *Client) ReadFile(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	if commitSHA.MatchString(ref) {
		return c.readContents(ctx, r, ref, path)
	}
	entries, err := c.files(ctx, r, ref)
	if errors.Is(err, errTruncated) {
		return c.readContents(ctx, r, ref, path)
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.GetPath() == path {
			if err := forge.CheckSize(path, int64(e.GetSize())); err != nil {
				return nil, err
			}
			return c.blob(ctx, r, e.GetSHA(), path)
		}
	}
	return nil, fmt.Errorf("%s at %s: %w", path, ref, forge.ErrNotFound)
}

func (c *Client) blob(ctx context.Context, r forge.Repo, sha, path string) ([]byte, error) {
	key := r.FullName() + "@" + sha
	if v, ok := blobCache.Get(key); ok {
		return v.([]byte), nil
	}
	blob, resp, err := c.gh.Git.GetBlob(ctx, r.Owner, r.Name, sha)
	if err != nil {
		return nil, notFound(resp, err, path)
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(blob.GetContent(), "\n", ""))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) <= maxCachedBlob {
		blobCache.Add(key, b)
	}
	return b, nil
}

func (c *Client) readContents(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	file, _, resp, err := c.gh.Repositories.GetContents(ctx, r.Owner, r.Name, path, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, notFound(resp, err, path)
	}
	if file == nil || file.GetType() != "file" {
		return nil, fmt.Errorf("%s is not a file: %w", path, forge.ErrNotFound)
	}
	if err := forge.CheckSize(path, int64(file.GetSize())); err != nil {
		return nil, err
	}
	if file.GetEncoding() == "none" {
		return c.blob(ctx, r, file.GetSHA(), path) // over 1 MB: only the blob API serves it
	}
	s, err := file.GetContent()
	return []byte(s), err
}

func (c *Client) ListFiles(ctx context.Context, r forge.Repo, ref, dir string) ([]string, error) {
	entries, err := c.files(ctx, r, ref)
	if errors.Is(err, errTruncated) {
		return pathReader{c}.ListFiles(ctx, r, ref, dir)
	}
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out []string
	for _, e := range entries {
		if dir == "" || strings.HasPrefix(e.GetPath(), prefix) {
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
	}
	body = forge.Fit(body, forge.GitHubBodyMax) // the marker is kept whole
	if m.Key != "" {
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
	create := func() error {
		_, _, err := c.gh.Issues.CreateComment(hostcall.Once(ctx), r.Owner, r.Name, m.Thread, &github.IssueComment{Body: &body})
		return err
	}
	err := create()
	// A server error may come after GitHub posted the comment: look for it
	// before posting again, so that a retry never doubles a reply.
	for try := 0; err != nil && m.Key != "" && !isRateLimit(err) && try < replyTries; try++ {
		if !hostcall.Sleep(ctx, try) {
			break
		}
		id, ferr := c.findReply(ctx, r, m.Thread, replyMarker(m.Key))
		if ferr != nil {
			break
		}
		if id != 0 {
			return nil
		}
		err = create()
	}
	if err != nil {
		return fmt.Errorf("replying: %w", err)
	}
	return nil
}

// replyTries bounds the look-then-post rounds after server errors.
const replyTries = 5

// isRateLimit: the host refused before doing anything.
func isRateLimit(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusTooManyRequests || er.Response.StatusCode == http.StatusForbidden)
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
