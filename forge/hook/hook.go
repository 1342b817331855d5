// Package hook holds what the bot's webhook receivers share: a bounded
// queue that answers "full" instead of blocking a delivery, and a memory of
// recent delivery IDs to drop retries.
package hook

import (
	"context"
	"log/slog"
	gosync "sync"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/inbox"
	"k8s.io/utils/lru"
)

// Queue runs jobs on a fixed number of workers until its context ends.
type Queue struct {
	jobs    chan job
	timeout time.Duration
	log     *slog.Logger
}

type job struct {
	name string
	run  func(ctx context.Context) error
}

// NewQueue starts workers that give each job at most timeout.
func NewQueue(ctx context.Context, size, workers int, timeout time.Duration, log *slog.Logger) *Queue {
	q := &Queue{jobs: make(chan job, size), timeout: timeout, log: log}
	for i := 0; i < workers; i++ {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-q.jobs:
					jctx, cancel := context.WithTimeout(ctx, q.timeout)
					if err := j.run(jctx); err != nil {
						q.log.Error("handling delivery", "event", j.name, "err", err)
					}
					cancel()
				}
			}
		}()
	}
	return q
}

// Push queues a job, or reports false when the queue is full.
func (q *Queue) Push(name string, run func(ctx context.Context) error) bool {
	select {
	case q.jobs <- job{name: name, run: run}:
		return true
	default:
		return false
	}
}

// Seen remembers delivery IDs for a while.
type Seen struct {
	mu     gosync.Mutex
	ids    *lru.Cache
	window time.Duration // 0: for as long as they are remembered
}

// NewSeen remembers up to n IDs; window bounds how long one counts.
func NewSeen(n int, window time.Duration) *Seen {
	return &Seen{ids: lru.New(n), window: window}
}

// First records id and reports whether it is new.
func (s *Seen) First(id string) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.ids.Get(id); ok && (s.window == 0 || now.Sub(at.(time.Time)) < s.window) {
		return false
	}
	s.ids.Add(id, now)
	return true
}

// Forget drops id, so that a delivery refused for capacity can come again.
func (s *Seen) Forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids.Remove(id)
}

// Options tune a receiver's delivery handling. The zero value of each
// field means its default.
type Options struct {
	QueueSize    int           // deliveries waiting for a worker; a full queue answers 503 (default 100)
	Workers      int           // deliveries handled at once (default 32)
	MaxBodyBytes int64         // larger deliveries are refused with 413 (default 25 MB, GitHub's cap)
	Remember     int           // delivery IDs remembered to drop redeliveries (default 10,000)
	Timeout      time.Duration // time one delivery may take (default 15 minutes)
	Log          *slog.Logger
	// Context is the parent of every delivery's handling; cancel it to stop.
	Context context.Context
	// Intake ends when the bot stops taking work (SIGTERM): kept
	// deliveries are no longer resumed or claimed. Default: Context.
	Intake context.Context
	// Inbox, when set, keeps every delivery that carries work from its
	// acknowledgement until its work is done (forge/inbox).
	Inbox inbox.Inbox
	// Flight tracks the kept deliveries queued or running in this process,
	// for every host (default: one per receiver).
	Flight *inbox.Flight
}

// Defaults fills the unset fields.
func (o *Options) Defaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 100
	}
	if o.Workers <= 0 {
		// The work waits on the hosts (and their pacing), not on the CPU.
		o.Workers = 32
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 25 << 20
	}
	if o.Remember <= 0 {
		o.Remember = 10000
	}
	if o.Timeout <= 0 {
		// Long enough for a burst of commands paced under the hosts' write
		// limits, and for their rate-limit waits (forge/hostcall).
		o.Timeout = 15 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.Intake == nil {
		o.Intake = o.Context
	}
	if o.Flight == nil {
		o.Flight = &inbox.Flight{Inbox: o.Inbox, Log: o.Log}
	}
}
