package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/forge"
)

// GitRemote implements forge.Fetcher: the project's git URL on this GitLab
// (beside its API) and the bot's token, as git over HTTPS takes it.
func (c *Client) GitRemote(_ context.Context, r forge.Repo) (forge.GitRemote, error) {
	base := c.gl.BaseURL()
	if base == nil {
		return forge.GitRemote{}, errors.New("the GitLab client has no base URL")
	}
	web := *base
	web.Path = strings.TrimSuffix(strings.TrimSuffix(web.Path, "/"), "/api/v4")
	web.RawQuery = ""
	if c.token == "" {
		return forge.GitRemote{}, errors.New("no token to fetch with")
	}
	token := c.token
	return forge.GitRemote{URL: strings.TrimSuffix(web.String(), "/") + "/" + r.FullName() + ".git", Username: "oauth2", Password: token}, nil
}

// PathReader implements forge.PathReading: the raw file API, and tree
// listings of the directories asked for only.
func (c *Client) PathReader() forge.Reader { return pathReader{c} }

type pathReader struct{ c *Client }

func (p pathReader) ReadFile(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	return p.c.readRaw(ctx, r, ref, path)
}

func (p pathReader) ListFiles(ctx context.Context, r forge.Repo, ref, dir string) ([]string, error) {
	dir = strings.Trim(dir, "/")
	opts := &gl.ListTreeOptions{Ref: gl.Ptr(ref), Recursive: gl.Ptr(true), ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	if dir != "" {
		opts.Path = gl.Ptr(dir)
	}
	var out []string
	for {
		nodes, resp, err := p.c.gl.Repositories.ListTree(pid(r), opts, gl.WithContext(ctx))
		if errors.Is(wrap(resp, err, dir), forge.ErrNotFound) {
			return nil, nil // no such directory: no files
		}
		if err != nil {
			return nil, wrap(resp, err, fmt.Sprintf("tree of %s at %s", dir, ref))
		}
		for _, n := range nodes {
			if n.Type == "blob" {
				out = append(out, n.Path)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
