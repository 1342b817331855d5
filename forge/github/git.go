package github

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/gitops-bot/gitops-bot/forge"
)

// DefaultWebURL is where github.com serves git.
const DefaultWebURL = "https://github.com"

// GitRemote implements forge.Fetcher: the repository's git URL on this
// GitHub and an installation token, as git over HTTPS takes it
// ("x-access-token" and the token).
func (c *Client) GitRemote(ctx context.Context, r forge.Repo) (forge.GitRemote, error) {
	if c.cc == nil || r.Installation == 0 {
		return forge.GitRemote{}, fmt.Errorf("no App installation to fetch %s with", r.FullName())
	}
	token, err := installationTokens.get(ctx, c.cc, r.Installation)
	if err != nil {
		return forge.GitRemote{}, err
	}
	web := c.webURL
	if web == "" {
		web = DefaultWebURL
	}
	return forge.GitRemote{URL: strings.TrimSuffix(web, "/") + "/" + r.FullName() + ".git", Username: "x-access-token", Password: token}, nil
}

// tokens caches installation tokens until shortly before they expire
// (GitHub gives them an hour).
type tokens struct {
	mu sync.Mutex
	m  map[int64]*github.InstallationToken
}

var installationTokens = &tokens{m: map[int64]*github.InstallationToken{}}

func (t *tokens) get(ctx context.Context, cc githubapp.ClientCreator, installation int64) (string, error) {
	t.mu.Lock()
	tok, ok := t.m[installation]
	t.mu.Unlock()
	if ok && time.Until(tok.GetExpiresAt().Time) > 5*time.Minute {
		return tok.GetToken(), nil
	}
	app, err := cc.NewAppClient()
	if err != nil {
		return "", err
	}
	tok, _, err = app.Apps.CreateInstallationToken(ctx, installation, nil)
	if err != nil {
		return "", fmt.Errorf("installation token: %w", err)
	}
	t.mu.Lock()
	t.m[installation] = tok
	t.mu.Unlock()
	return tok.GetToken(), nil
}

// PathReader implements forge.PathReading: reads through the contents API
// and listings of the directories asked for, never of the whole tree, for
// when a repository's mirror cannot be fetched.
func (c *Client) PathReader() forge.Reader { return pathReader{c} }

type pathReader struct{ c *Client }

func (p pathReader) ReadFile(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	return p.c.readContents(ctx, r, ref, path)
}

// ListFiles walks to dir one level at a time, then lists it recursively
// (level by level again where GitHub truncates a listing).
func (p pathReader) ListFiles(ctx context.Context, r forge.Repo, ref, dir string) ([]string, error) {
	tree, err := p.c.rootTree(ctx, r, ref)
	if err != nil {
		return nil, err
	}
	dir = strings.Trim(dir, "/")
	prefix := ""
	if dir != "" {
		for _, name := range strings.Split(dir, "/") {
			t, resp, err := p.c.gh.Git.GetTree(ctx, r.Owner, r.Name, tree, false)
			if err != nil {
				return nil, notFound(resp, err, "tree of "+prefix)
			}
			next := ""
			for _, e := range t.Entries {
				if e.GetPath() == name && e.GetType() == "tree" {
					next = e.GetSHA()
				}
			}
			if next == "" {
				return nil, nil // no such directory: no files
			}
			tree, prefix = next, prefix+name+"/"
		}
	}
	return p.c.listTree(ctx, r, tree, prefix)
}

// rootTree is the root tree of a branch or commit.
func (c *Client) rootTree(ctx context.Context, r forge.Repo, ref string) (string, error) {
	if !commitSHA.MatchString(ref) {
		h, err := c.branchHead(ctx, r, ref)
		return h.tree, err
	}
	commit, resp, err := c.gh.Git.GetCommit(ctx, r.Owner, r.Name, ref)
	if err != nil {
		return "", notFound(resp, err, "commit "+ref)
	}
	return commit.GetTree().GetSHA(), nil
}

// listTree lists the files of a tree, recursively in one call unless
// GitHub truncates it, then level by level.
func (c *Client) listTree(ctx context.Context, r forge.Repo, sha, prefix string) ([]string, error) {
	t, resp, err := c.gh.Git.GetTree(ctx, r.Owner, r.Name, sha, true)
	if err != nil {
		return nil, notFound(resp, err, "tree "+prefix)
	}
	var out []string
	if !t.GetTruncated() {
		for _, e := range t.Entries {
			if e.GetType() == "blob" {
				out = append(out, prefix+e.GetPath())
			}
		}
		return out, nil
	}
	t, resp, err = c.gh.Git.GetTree(ctx, r.Owner, r.Name, sha, false)
	if err != nil {
		return nil, notFound(resp, err, "tree "+prefix)
	}
	for _, e := range t.Entries {
		switch e.GetType() {
		case "blob":
			out = append(out, prefix+e.GetPath())
		case "tree":
			sub, err := c.listTree(ctx, r, e.GetSHA(), prefix+e.GetPath()+"/")
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}
