// Package activity remembers the bot's recent commands and alert
// notifications, with their outcome, for the status page. It is memory
// only: the page shows what this replica did since it started.
package activity

import (
	"sync"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/md"
)

// Entry is one command or one alert rule's action.
type Entry struct {
	Time   time.Time
	Source string // "command" or "alert"
	Repo   string // owner/name, or the rule's repository
	// What: the command's verb and arguments, or the alert and its rule.
	What string
	// Where it came from: the thread ("#12", "!3") and its address.
	Where, WhereURL string
	Outcome         string // ok, refused, usage, invalid, failed; opened, updated, suppressed, ...
	Detail          string // the error, or why nothing was done
	// Link: the pull request opened or updated.
	Link, LinkText string
}

// Log keeps the last entries; its zero value keeps none. Nil-safe.
type Log struct {
	mu      sync.Mutex
	entries []Entry // a ring of max entries; next is the oldest once full
	next    int
	max     int
}

// New keeps the last max entries.
func New(max int) *Log { return &Log{max: max} }

// Add records e, stamping it with the time if it has none.
func (l *Log) Add(e Entry) {
	if l == nil || l.max <= 0 {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	// Bounded: a comment's line or a build's error can be long, and the
	// page keeps hundreds of entries.
	e.What, e.Detail = md.Clip(e.What, maxWhat), md.Clip(e.Detail, maxDetail)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) < l.max {
		l.entries = append(l.entries, e)
		return
	}
	l.entries[l.next] = e
	l.next = (l.next + 1) % l.max
}

// Recent returns the entries, newest first.
func (l *Log) Recent() []Entry {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, 0, len(l.entries))
	for i := len(l.entries) - 1; i >= 0; i-- {
		out = append(out, l.entries[(l.next+i)%len(l.entries)])
	}
	return out
}

const maxWhat, maxDetail = 300, 1000
