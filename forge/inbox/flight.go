package inbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// Flight runs kept deliveries through the work queues: each at most once
// at a time in this process, and recorded done when its work ends, unless
// the process is stopping (then the next start, or another replica,
// resumes it).
type Flight struct {
	Inbox Inbox
	// Log gets a line for each delivery taken from the inbox rather than
	// from the host: what a restart, another replica or a full queue left.
	Log *slog.Logger

	mu       sync.Mutex
	inflight map[string]bool
}

// Run hands work for delivery id to push (which queues it and says
// whether it could) unless the delivery is queued or running already; false
// when the queue is full. held: accepted here just now, so not claimed.
func (f *Flight) Run(ctx context.Context, host, id string, held bool, push func(func(context.Context) error) bool, work func(context.Context) error) bool {
	key := host + "/" + id
	f.mu.Lock()
	if f.inflight == nil {
		f.inflight = map[string]bool{}
	}
	if f.inflight[key] {
		f.mu.Unlock()
		return true
	}
	f.inflight[key] = true
	f.mu.Unlock()
	land := func() {
		f.mu.Lock()
		delete(f.inflight, key)
		f.mu.Unlock()
	}
	if !held && !f.Inbox.Claim(ctx, host, id) { // done since it was listed, or another replica's
		land()
		return true
	}
	if !held && f.Log != nil {
		f.Log.Info("resuming a delivery accepted before and not done", "host", host, "delivery", id)
	}
	ok := push(func(ctx context.Context) error {
		err := work(ctx)
		// Out of the inbox first, then out of flight: in the other order
		// the resume loop could queue it again in between.
		defer land()
		if errors.Is(ctx.Err(), context.Canceled) {
			return err
		}
		// Recorded even when the delivery used up its time: it has run.
		return errors.Join(err, f.Inbox.Done(context.WithoutCancel(ctx), host, id))
	})
	if !ok {
		land()
	}
	return ok
}

// InFlight counts the deliveries queued or running.
func (f *Flight) InFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inflight)
}
