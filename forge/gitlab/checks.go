package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/forge"
)

// GitLab's commit statuses carry a state and a one-line description (at
// most 255 characters); the detailed table stays with the check's summary
// for hosts that show it.
const maxDescription = 255

// state maps a check to a commit status state.
func state(c forge.Check) gl.BuildStateValue {
	switch {
	case c.Status == "queued":
		return gl.Pending
	case c.Status == "in_progress":
		return gl.Running
	case c.Conclusion == "success":
		return gl.Success
	case c.Conclusion == "neutral" || c.Conclusion == "skipped":
		return gl.Skipped
	case c.Conclusion == "timed_out" || c.Conclusion == "cancelled":
		return gl.Canceled
	}
	return gl.Failed
}

// conclusion maps a finished commit status back.
func conclusion(s string) (status, concl string) {
	switch gl.BuildStateValue(s) {
	case gl.Pending, gl.Created:
		return "queued", ""
	case gl.Running:
		return "in_progress", ""
	case gl.Success:
		return "completed", "success"
	case gl.Skipped:
		return "completed", "neutral"
	case gl.Canceled:
		return "completed", "cancelled"
	}
	return "completed", "failure"
}

// Report sets the commit status named after the check. GitLab keeps the
// latest status per name, so reporting again updates it in place.
func (c *Client) Report(ctx context.Context, r forge.Repo, sha string, ch forge.Check) (forge.Check, error) {
	desc := ch.Title
	if len(desc) > maxDescription {
		cut := maxDescription - len("…")
		for cut > 0 && desc[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		desc = desc[:cut] + "…"
	}
	target := ch.DetailsURL
	if pr, _, err := forge.ParseSyncCheckID(ch.ExternalID); err == nil && target == "" {
		target = r.ThreadURL(pr, true)
	}
	opts := &gl.SetCommitStatusOptions{State: state(ch), Name: gl.Ptr(ch.Name), Description: gl.Ptr(desc)}
	if target != "" {
		opts.TargetURL = &target
	}
	st, resp, err := c.gl.Commits.SetCommitStatus(pid(r), sha, opts, gl.WithContext(ctx))
	if err != nil && resp != nil && resp.StatusCode == http.StatusBadRequest && strings.Contains(err.Error(), "Cannot transition status") {
		// The status is in this state already (running again with a new
		// table): GitLab keeps the description it has; nothing is lost but
		// the intermediate text.
		return ch, nil
	}
	if err != nil {
		return ch, fmt.Errorf("setting commit status %q: %w", ch.Name, err)
	}
	ch.ID = st.ID
	return ch, nil
}

// GetCheck reads a commit status back by its id.
func (c *Client) GetCheck(ctx context.Context, r forge.Repo, sha string, id int64) (forge.Check, error) {
	sts, resp, err := c.gl.Commits.GetCommitStatuses(pid(r), sha, &gl.GetCommitStatusesOptions{All: gl.Ptr(true)}, gl.WithContext(ctx))
	if err != nil {
		return forge.Check{}, wrap(resp, err, "statuses of "+sha)
	}
	// A later status of the same name supersedes the one asked for.
	var name string
	for _, s := range sts {
		if s.ID == id {
			name = s.Name
		}
	}
	for _, s := range sts {
		if s.Name == name && s.ID >= id {
			status, concl := conclusion(s.Status)
			return forge.Check{ID: s.ID, Name: s.Name, Status: status, Conclusion: concl}, nil
		}
	}
	return forge.Check{}, fmt.Errorf("commit status %d: %w", id, forge.ErrNotFound)
}

// Contains asks for the merge base: descendant contains ancestor when the
// merge base of the two is ancestor.
func (c *Client) Contains(ctx context.Context, r forge.Repo, descendant, ancestor string) (bool, error) {
	if descendant == ancestor {
		return true, nil
	}
	base, resp, err := c.gl.Repositories.MergeBase(pid(r), &gl.MergeBaseOptions{Ref: &[]string{descendant, ancestor}}, gl.WithContext(ctx))
	if status(resp) == 404 || status(resp) == 400 {
		return false, nil // a commit GitLab does not know contains nothing
	}
	if err != nil {
		return false, fmt.Errorf("merge base: %w", err)
	}
	return base.ID == ancestor, nil
}
