package github

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/gitops-bot/gitops-bot/forge/inbox"
)

// CatchUp asks GitHub to redeliver what it could not deliver while the bot
// was down or overloaded: GitHub keeps an App's deliveries for three days
// and lists them (GET /app/hook/deliveries), but never redelivers a failed
// one by itself. A delivery is asked for again, once, when no attempt of it
// succeeded, its last attempt failed the way an unreachable or overloaded
// bot fails (no answer, or 5xx), and the inbox does not know it.
type CatchUp struct {
	CC    githubapp.ClientCreator
	Inbox inbox.Inbox
	// Window is how far back deliveries are looked at (default 3 days,
	// GitHub's retention).
	Window time.Duration
	Log    *slog.Logger

	mu    sync.Mutex
	asked map[string]time.Time // GUIDs whose redelivery was requested, and when
}

// askAgainAfter: a redelivery that did not succeed either (the bot was down
// again) is asked for once more after this long.
const askAgainAfter = 30 * time.Minute

// Run catches up after first (the bot must be listening by then: GitHub
// redelivers to it) and then every interval, until ctx ends.
func (c *CatchUp) Run(ctx context.Context, first, every time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(first):
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := c.Once(ctx); err != nil {
			c.Log.Warn("catching up on failed deliveries", "err", err)
		} else if n > 0 {
			c.Log.Info("asked GitHub to redeliver deliveries that failed", "deliveries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxDeliveryPages bounds one catch-up's listing (100 deliveries a page).
const maxDeliveryPages = 20

// Once lists the recent deliveries and asks for the redelivery of each one
// that failed and was never taken; it returns how many it asked for.
func (c *CatchUp) Once(ctx context.Context) (int, error) {
	window := c.Window
	if window == 0 {
		window = 72 * time.Hour
	}
	app, err := c.CC.NewAppClient()
	if err != nil {
		return 0, err
	}
	type attempts struct {
		ok       bool
		lastFail int64
		lastAt   time.Time
	}
	byGUID := map[string]*attempts{}
	since := time.Now().Add(-window)
	opts := &github.ListCursorOptions{PerPage: 100}
	for page := 0; page < maxDeliveryPages; page++ {
		list, resp, err := app.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return 0, err
		}
		old := false
		for _, d := range list {
			if d.GetDeliveredAt().Before(since) {
				old = true
				continue
			}
			a := byGUID[d.GetGUID()]
			if a == nil {
				a = &attempts{}
				byGUID[d.GetGUID()] = a
			}
			code := d.GetStatusCode()
			switch {
			case code >= 200 && code < 300:
				a.ok = true
			case code == 0 || code >= 500:
				if d.GetDeliveredAt().After(a.lastAt) {
					a.lastFail, a.lastAt = d.GetID(), d.GetDeliveredAt().Time
				}
			}
		}
		if old || resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	asked := 0
	for guid, a := range byGUID {
		if a.ok || a.lastFail == 0 || c.wasAsked(guid) {
			continue
		}
		if known, err := c.Inbox.Known(ctx, "github", guid); err != nil || known {
			continue
		}
		if _, _, err := app.Apps.RedeliverHookDelivery(ctx, a.lastFail); err != nil {
			return asked, err
		}
		c.mu.Lock()
		if c.asked == nil {
			c.asked = map[string]time.Time{}
		}
		c.asked[guid] = time.Now()
		c.mu.Unlock()
		asked++
	}
	return asked, nil
}

func (c *CatchUp) wasAsked(guid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.asked[guid]
	return ok && time.Since(at) < askAgainAfter
}
