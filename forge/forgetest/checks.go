package forgetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest/gitstore"
)

// Checks is an in-memory forge.Checks and forge.Connector with GitHub's
// semantics: checks are found again by name and external ID on a commit;
// Contains follows a commit graph given with Commit.
type Checks struct {
	mu       sync.Mutex
	checks   map[int64]*Record
	parents  map[string][]string
	calls    int
	compares int
	replies  []forge.Reply
	// AfterCall runs after the host recorded the n-th Report, before the
	// bot hears back: a test can "kill" the bot there.
	AfterCall func(n int)
}

// Record is one check with its history.
type Record struct {
	forge.Check
	SHA         string
	Created     int // times created (must stay 1)
	Completions int // updates with status completed
	Updates     []forge.Check
}

// NewChecks returns an empty host.
func NewChecks() *Checks {
	return &Checks{checks: map[int64]*Record{}, parents: map[string][]string{}}
}

// Commit records a commit and its parents.
func (c *Checks) Commit(sha string, parents ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parents[sha] = parents
}

// Checks implements forge.Connector.
func (c *Checks) Checks(context.Context, forge.Repo) (forge.Checks, error) { return c, nil }

func (c *Checks) Report(_ context.Context, _ forge.Repo, sha string, ch forge.Check) (forge.Check, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	after := c.AfterCall
	defer func() {
		if after != nil {
			after(n)
		}
	}()
	defer c.mu.Unlock()
	if ch.ID == 0 {
		for id, r := range c.checks {
			if r.SHA == sha && r.Name == ch.Name && r.ExternalID == ch.ExternalID {
				ch.ID = id
			}
		}
	}
	r, ok := c.checks[ch.ID]
	if !ok {
		ch.ID = int64(len(c.checks) + 1)
		r = &Record{SHA: sha}
		r.Created++
		c.checks[ch.ID] = r
	}
	r.Check = ch
	r.Updates = append(r.Updates, ch)
	if ch.Status == "completed" {
		r.Completions++
	}
	return ch, nil
}

func (c *Checks) GetCheck(_ context.Context, _ forge.Repo, _ string, id int64) (forge.Check, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.checks[id]
	if !ok {
		return forge.Check{}, fmt.Errorf("check %d: %w", id, forge.ErrNotFound)
	}
	return r.Check, nil
}

func (c *Checks) Contains(_ context.Context, _ forge.Repo, descendant, ancestor string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.compares++
	if descendant == ancestor {
		return true, nil
	}
	return gitstore.Reachable(descendant, func(sha string) ([]string, bool) {
		return c.parents[sha], true
	})[ancestor], nil
}

// Reply records a message on a pull request (the host's Responder).
func (c *Checks) Reply(_ context.Context, _ forge.Repo, m forge.Reply) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = append(c.replies, m)
	return nil
}

// React is a no-op, for the Responder interface.
func (c *Checks) React(context.Context, forge.Repo, forge.CommentRef, string) (bool, error) {
	return true, nil
}

// Replies returns the messages posted on pull requests.
func (c *Checks) Replies() []forge.Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]forge.Reply(nil), c.replies...)
}

// Find returns the check of a name and commit.
func (c *Checks) Find(sha, name string) (Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.checks {
		if r.SHA == sha && r.Name == name {
			cp := *r
			cp.Updates = append([]forge.Check(nil), r.Updates...)
			return cp, true
		}
	}
	return Record{}, false
}

// All returns every check.
func (c *Checks) All() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Record, 0, len(c.checks))
	for _, r := range c.checks {
		out = append(out, *r)
	}
	return out
}

// Compares counts the Contains calls.
func (c *Checks) Compares() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.compares
}
