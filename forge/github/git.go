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
	return p.c.pathFiles.Read(ref+":"+path, func() ([]byte, error) { return p.c.readContents(ctx, r, ref, path) })
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
			entries, _, err := p.c.tree(ctx, r, tree, false, "tree of "+prefix)
			if err != nil {
				return nil, err
			}
			next := ""
			for _, e := range entries {
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

// rootTree is the root tree of a branch or commit, read once per event.
func (c *Client) rootTree(ctx context.Context, r forge.Repo, ref string) (string, error) {
	h, err := c.branchHead(ctx, r, ref)
	return h.tree, err
}

// listTree lists the files of a tree, recursively in one call unless
// GitHub truncates it, then level by level. A tree whose level and every
// subtree were already listed costs no call.
func (c *Client) listTree(ctx context.Context, r forge.Repo, sha, prefix string) ([]string, error) {
	if out, ok := c.listedTree(sha, prefix); ok {
		return out, nil
	}
	entries, truncated, err := c.tree(ctx, r, sha, true, "tree "+prefix)
	if err != nil {
		return nil, err
	}
	if !truncated {
		return blobPaths(entries, prefix), nil
	}
	level, _, err := c.tree(ctx, r, sha, false, "tree "+prefix)
	if err != nil {
		return nil, err
	}
	out := blobPaths(level, prefix)
	for _, e := range level {
		if e.GetType() == "tree" {
			sub, err := c.listTree(ctx, r, e.GetSHA(), prefix+e.GetPath()+"/")
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// listedTree answers a recursive listing from what this event already
// read: the tree's own recursive listing, or its level with every subtree
// answered the same way.
func (c *Client) listedTree(sha, prefix string) ([]string, bool) {
	if entries, ok := c.pathTrees.get(sha, true); ok {
		return blobPaths(entries, prefix), true
	}
	level, ok := c.pathTrees.get(sha, false)
	if !ok {
		return nil, false
	}
	out := blobPaths(level, prefix)
	for _, e := range level {
		if e.GetType() == "tree" {
			sub, ok := c.listedTree(e.GetSHA(), prefix+e.GetPath()+"/")
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
		}
	}
	return out, true
}

func blobPaths(entries []*github.TreeEntry, prefix string) []string {
	var out []string
	for _, e := range entries {
		if e.GetType() == "blob" {
			out = append(out, prefix+e.GetPath())
		}
	}
	return out
}

// tree reads a tree, one level or recursively, once per event; truncated
// says GitHub cut a recursive listing short (such a listing is not kept).
func (c *Client) tree(ctx context.Context, r forge.Repo, sha string, recursive bool, what string) (entries []*github.TreeEntry, truncated bool, err error) {
	if entries, ok := c.pathTrees.get(sha, recursive); ok {
		return entries, false, nil
	}
	t, resp, err := c.gh.Git.GetTree(ctx, r.Owner, r.Name, sha, recursive)
	if err != nil {
		return nil, false, notFound(resp, err, what)
	}
	if recursive && t.GetTruncated() {
		return nil, true, nil
	}
	c.pathTrees.keep(sha, recursive, t.Entries)
	return t.Entries, false, nil
}

// treeReads keeps one event's tree reads along paths, by SHA and depth.
type treeReads struct {
	mu sync.Mutex
	m  map[string][]*github.TreeEntry
}

func treeKey(sha string, recursive bool) string {
	if recursive {
		return sha + "?recursive"
	}
	return sha
}

func (t *treeReads) get(sha string, recursive bool) ([]*github.TreeEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[treeKey(sha, recursive)]
	return e, ok
}

func (t *treeReads) keep(sha string, recursive bool, entries []*github.TreeEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string][]*github.TreeEntry{}
	}
	t.m[treeKey(sha, recursive)] = entries
}
