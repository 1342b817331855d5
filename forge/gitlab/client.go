// Package gitlab is the GitLab forge (gitlab.com or self-managed): the
// webhook with its secret token, and the REST API through
// gitlab.com/gitlab-org/api/client-go with the bot user's token.
package gitlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	gosync "sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/hostcall"
)

// Client is the forge for one event (it remembers the file listing it read).
type Client struct {
	gl    *gl.Client
	token string // for git over HTTPS; empty: no mirror of its repositories

	mu    gosync.Mutex
	trees map[string][]string // ref -> files
	files forge.FileReads     // "ref:path" -> content or its absence
}

// NewClient wraps an API client.
func NewClient(c *gl.Client) *Client {
	return &Client{gl: c, trees: map[string][]string{}}
}

// WithGitToken sets the token git fetches the repositories with (the
// API's token) and returns the client.
func (c *Client) WithGitToken(token string) *Client {
	c.token = token
	return c
}

var _ forge.Forge = (*Client)(nil)

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// pid is the project as the API names it: its full path.
func pid(r forge.Repo) string { return r.FullName() }

func status(resp *gl.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

func wrap(resp *gl.Response, err error, what string) error {
	if status(resp) == http.StatusNotFound {
		return fmt.Errorf("%s: %w", what, forge.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ReadFile reads a file. At a branch it first lists the branch (once per
// event): a missing file then costs no call, and the listing serves the
// directory reads and the commit's create-or-update choice that follow.
func (c *Client) ReadFile(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	if !commitSHA.MatchString(ref) {
		files, err := c.ListFiles(ctx, r, ref, "")
		if err != nil {
			return nil, err
		}
		if !set(files)[path] {
			return nil, fmt.Errorf("%s at %s: %w", path, ref, forge.ErrNotFound)
		}
	}
	return c.readRaw(ctx, r, ref, path)
}

// readRaw reads a file through the raw file API, once per event, and
// never more of it than forge.MaxFileBytes: the size is taken from the
// response that carries the file (its Content-Length, or the bytes read
// so far), not asked for in a call of its own.
func (c *Client) readRaw(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	return c.files.Read(ref+":"+path, func() ([]byte, error) { return c.getRaw(ctx, r, ref, path) })
}

func (c *Client) getRaw(ctx context.Context, r forge.Repo, ref, path string) ([]byte, error) {
	u := fmt.Sprintf("projects/%s/repository/files/%s/raw", gl.PathEscape(pid(r)), gl.PathEscape(path))
	req, err := c.gl.NewRequest(http.MethodGet, u, &gl.GetRawFileOptions{Ref: gl.Ptr(ref)}, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w := &capped{max: forge.MaxFileBytes}
	resp, err := c.gl.Do(req, w)
	if resp != nil && resp.ContentLength > forge.MaxFileBytes {
		return nil, forge.CheckSize(path, resp.ContentLength)
	}
	if errors.Is(err, errOverCap) {
		return nil, forge.CheckSize(path, w.n)
	}
	if err != nil {
		return nil, wrap(resp, err, path)
	}
	return w.buf.Bytes(), nil
}

var errOverCap = errors.New("over the size cap")

// capped keeps up to max bytes and refuses the rest, which stops the copy
// of a response body once it passes the cap.
type capped struct {
	buf bytes.Buffer
	max int64
	n   int64 // bytes offered
}

func (w *capped) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n > w.max {
		return 0, errOverCap
	}
	return w.buf.Write(p)
}

// maxTreePages bounds a listing (100 entries a page).
const maxTreePages = 100

func (c *Client) ListFiles(ctx context.Context, r forge.Repo, ref, dir string) ([]string, error) {
	c.mu.Lock()
	all, ok := c.trees[ref]
	c.mu.Unlock()
	if !ok {
		opts := &gl.ListTreeOptions{Ref: gl.Ptr(ref), Recursive: gl.Ptr(true), ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
		for page := 0; page < maxTreePages; page++ {
			nodes, resp, err := c.gl.Repositories.ListTree(pid(r), opts, gl.WithContext(ctx))
			if err != nil {
				return nil, wrap(resp, err, "tree of "+ref)
			}
			for _, n := range nodes {
				if n.Type == "blob" {
					all = append(all, n.Path)
				}
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		c.mu.Lock()
		c.trees[ref] = all
		c.mu.Unlock()
	}
	var out []string
	for _, f := range all {
		if dir == "" || strings.HasPrefix(f, strings.TrimSuffix(dir, "/")+"/") {
			out = append(out, f)
		}
	}
	return out, nil
}

// Permission maps a member's effective access level: Developer can push
// (write), Maintainer maintains, Owner administers.
func (c *Client) Permission(ctx context.Context, r forge.Repo, user string) (forge.Permission, error) {
	members, _, err := c.gl.ProjectMembers.ListAllProjectMembers(pid(r), &gl.ListProjectMembersOptions{Query: gl.Ptr(user)}, gl.WithContext(ctx))
	if err != nil {
		return forge.PermNone, fmt.Errorf("members of %s: %w", r.FullName(), err)
	}
	level := gl.NoPermissions
	for _, m := range members {
		if strings.EqualFold(m.Username, user) && m.AccessLevel > level {
			level = m.AccessLevel
		}
	}
	switch {
	case level >= gl.OwnerPermissions:
		return forge.PermAdmin, nil
	case level >= gl.MaintainerPermissions:
		return forge.PermMaintain, nil
	case level >= gl.DeveloperPermissions:
		return forge.PermWrite, nil
	case level >= gl.ReporterPermissions:
		return forge.PermTriage, nil
	case level >= gl.GuestPermissions:
		return forge.PermRead, nil
	}
	return forge.PermNone, nil
}

// TeamMember: a "team" is a GitLab group path; membership includes
// inherited membership.
func (c *Client) TeamMember(ctx context.Context, _ forge.Repo, team, user string) (bool, error) {
	members, _, err := c.gl.Groups.ListAllGroupMembers(team, &gl.ListGroupMembersOptions{Query: gl.Ptr(user)}, gl.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("members of group %s: %w", team, err)
	}
	for _, m := range members {
		if strings.EqualFold(m.Username, user) {
			return true, nil
		}
	}
	return false, nil
}

func (c *Client) React(ctx context.Context, r forge.Repo, ref forge.CommentRef, reaction string) (bool, error) {
	opts := &gl.CreateAwardEmojiOptions{Name: reaction}
	var resp *gl.Response
	var err error
	if ref.PR {
		_, resp, err = c.gl.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(pid(r), int64(ref.Thread), ref.ID, opts, gl.WithContext(ctx))
	} else {
		_, resp, err = c.gl.AwardEmoji.CreateIssuesAwardEmojiOnNote(pid(r), int64(ref.Thread), ref.ID, opts, gl.WithContext(ctx))
	}
	// GitLab refuses a second identical award: the note was seen before.
	if status(resp) == http.StatusBadRequest || status(resp) == http.StatusConflict || status(resp) == http.StatusNotFound && strings.Contains(fmt.Sprint(err), "already") {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("award emoji: %w", err)
	}
	return true, nil
}

func replyMarker(key string) string { return "<!-- gitops-bot:reply:" + key + " -->" }

// Reply posts a note, or edits the note that carries the same key.
func (c *Client) Reply(ctx context.Context, r forge.Repo, m forge.Reply) error {
	body := m.Body
	if m.Key != "" {
		body += "\n\n" + replyMarker(m.Key)
	}
	body = forge.Fit(body, forge.GitLabBodyMax) // the marker is kept whole
	if m.Key != "" {
		if !m.New {
			id, err := c.findNote(ctx, r, m, replyMarker(m.Key))
			if err != nil {
				return err
			}
			if id != 0 {
				return c.editNote(ctx, r, m, id, body)
			}
		}
	}
	create := func() error {
		once := gl.WithContext(hostcall.Once(ctx))
		var err error
		if m.PR {
			_, _, err = c.gl.Notes.CreateMergeRequestNote(pid(r), int64(m.Thread), &gl.CreateMergeRequestNoteOptions{Body: &body}, once)
		} else {
			_, _, err = c.gl.Notes.CreateIssueNote(pid(r), int64(m.Thread), &gl.CreateIssueNoteOptions{Body: &body}, once)
		}
		return err
	}
	err := create()
	var ge *gl.ErrorResponse
	// A server error may come after GitLab posted the note: look for it
	// before posting again, so that a retry never doubles a reply.
	for try := 0; err != nil && m.Key != "" && !(errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode < 500) && try < 5; try++ {
		if !hostcall.Sleep(ctx, try) {
			break
		}
		id, ferr := c.findNote(ctx, r, m, replyMarker(m.Key))
		if ferr != nil {
			break
		}
		if id != 0 {
			return nil
		}
		err = create()
	}
	if err != nil {
		return fmt.Errorf("posting note: %w", err)
	}
	return nil
}

func (c *Client) editNote(ctx context.Context, r forge.Repo, m forge.Reply, id int64, body string) error {
	var err error
	if m.PR {
		_, _, err = c.gl.Notes.UpdateMergeRequestNote(pid(r), int64(m.Thread), id, &gl.UpdateMergeRequestNoteOptions{Body: &body}, gl.WithContext(ctx))
	} else {
		_, _, err = c.gl.Notes.UpdateIssueNote(pid(r), int64(m.Thread), id, &gl.UpdateIssueNoteOptions{Body: &body}, gl.WithContext(ctx))
	}
	if err != nil {
		return fmt.Errorf("editing note: %w", err)
	}
	return nil
}

const maxNotePages = 10

func (c *Client) findNote(ctx context.Context, r forge.Repo, m forge.Reply, marker string) (int64, error) {
	for page := int64(1); page <= maxNotePages; page++ {
		var notes []*gl.Note
		var resp *gl.Response
		var err error
		lo := gl.ListOptions{PerPage: 100, Page: page}
		if m.PR {
			notes, resp, err = c.gl.Notes.ListMergeRequestNotes(pid(r), int64(m.Thread), &gl.ListMergeRequestNotesOptions{ListOptions: lo}, gl.WithContext(ctx))
		} else {
			notes, resp, err = c.gl.Notes.ListIssueNotes(pid(r), int64(m.Thread), &gl.ListIssueNotesOptions{ListOptions: lo}, gl.WithContext(ctx))
		}
		if err != nil {
			return 0, fmt.Errorf("listing notes: %w", err)
		}
		for _, n := range notes {
			if strings.Contains(n.Body, marker) {
				return n.ID, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
	}
	return 0, nil
}

var errNoMR = errors.New("no open merge request")

// HostCallOptions are the client options that retry and pace calls as
// forge/hostcall does: GitLab's client retries (go-retryablehttp) with
// hostcall's policy, and its transport paces the writes.
func HostCallOptions(o hostcall.Options) []gl.ClientOptionFunc {
	writes := o.Writes
	if writes == nil {
		writes = hostcall.DefaultWrites
	}
	return []gl.ClientOptionFunc{
		gl.WithHTTPClient(&http.Client{Transport: hostcall.Pace(http.DefaultTransport, writes), Timeout: 30 * time.Second}),
		gl.WithCustomRetry(hostcall.CheckRetry), gl.WithCustomBackoff(o.Backoff), gl.WithCustomRetryMax(6),
	}
}
