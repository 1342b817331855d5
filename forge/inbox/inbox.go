// Package inbox keeps the deliveries the bot has acknowledged until their
// work is done: a delivery that carries work is written before the host
// hears 202, and removed only when it has been handled, so that a crash or
// a restart resumes what was accepted instead of losing it (GitHub does not
// redeliver a delivery it saw acknowledged). It also answers "was this
// delivery accepted before?" across restarts, so a redelivery is handled
// once.
//
// The embedded store is a bbolt file under the data directory: one process.
package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gitops-bot/gitops-bot/store"
	bolt "go.etcd.io/bbolt"
)

// Delivery is one accepted webhook delivery.
type Delivery struct {
	Host     string    `json:"host"` // "github", "gitlab"
	ID       string    `json:"id"`   // the host's delivery ID
	Event    string    `json:"event"`
	Payload  []byte    `json:"payload"`
	Accepted time.Time `json:"accepted"`
}

func (d Delivery) key() []byte { return []byte(d.Host + "/" + d.ID) }

var (
	pending = []byte("pending")
	done    = []byte("done") // key -> time handled, to drop late redeliveries
)

// Inbox is what the webhooks and the catch-up need of a store of
// deliveries. Store is the embedded one (one process); a shared one (the
// Kubernetes API, for several replicas) implements the same.
type Inbox interface {
	// Accept keeps d; false when a delivery of that ID is pending or was
	// handled lately.
	Accept(ctx context.Context, d Delivery) (first bool, err error)
	// Done records that a delivery's work is complete.
	Done(ctx context.Context, host, id string) error
	// Known: pending or handled lately.
	Known(ctx context.Context, host, id string) (bool, error)
	// Claim: accepted, not done, and this process may work on it now (a
	// shared store hands it to one replica).
	Claim(ctx context.Context, host, id string) bool
	// Pending lists the accepted deliveries not done that this process
	// holds or may claim, oldest first.
	Pending(ctx context.Context) ([]Delivery, error)
}

var _ Inbox = (*Store)(nil)

// ErrTooLarge: a delivery larger than the store keeps (the Kubernetes
// store: what fits in one object). The receivers handle it unkept.
var ErrTooLarge = store.ErrTooLarge

// Remember is how long a handled delivery's ID is kept to drop its
// redeliveries.
const Remember = 24 * time.Hour

// Store is the embedded inbox.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

// Open opens (or creates) the inbox in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "inbox.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening the inbox in %s: %w", dir, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{pending, done} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Accept writes d before it is acknowledged. first is false when a delivery
// of that ID is pending or was handled in the last day: nothing to do again.
func (s *Store) Accept(_ context.Context, d Delivery) (first bool, err error) {
	if d.Accepted.IsZero() {
		d.Accepted = s.now()
	}
	b, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(pending).Get(d.key()) != nil || tx.Bucket(done).Get(d.key()) != nil {
			return nil
		}
		first = true
		return tx.Bucket(pending).Put(d.key(), b)
	})
	return first, err
}

// Done records that a delivery's work is complete.
func (s *Store) Done(_ context.Context, host, id string) error {
	key := []byte(host + "/" + id)
	now := s.now()
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(pending).Delete(key); err != nil {
			return err
		}
		at, _ := now.MarshalText()
		if err := tx.Bucket(done).Put(key, at); err != nil {
			return err
		}
		// Forget what is too old to be redelivered (a bounded walk).
		c := tx.Bucket(done).Cursor()
		n := 0
		for k, v := c.First(); k != nil && n < 100; k, v = c.Next() {
			n++
			var t time.Time
			if t.UnmarshalText(v) == nil && now.Sub(t) > Remember {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Known tells whether a delivery is pending or was handled in the last day.
func (s *Store) Known(_ context.Context, host, id string) (bool, error) {
	key := []byte(host + "/" + id)
	known := false
	err := s.db.View(func(tx *bolt.Tx) error {
		known = tx.Bucket(pending).Get(key) != nil || tx.Bucket(done).Get(key) != nil
		return nil
	})
	return known, err
}

// Claim tells whether a delivery is accepted and not done (one process
// holds them all).
func (s *Store) Claim(_ context.Context, host, id string) bool {
	key := []byte(host + "/" + id)
	found := false
	s.db.View(func(tx *bolt.Tx) error { //nolint:errcheck // a read that cannot fail
		found = tx.Bucket(pending).Get(key) != nil
		return nil
	})
	return found
}

// Pending returns the accepted deliveries not done, oldest first.
func (s *Store) Pending(_ context.Context) ([]Delivery, error) {
	var out []Delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(pending).ForEach(func(_, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return errors.Join(errors.New("an inbox entry does not decode"), err)
			}
			out = append(out, d)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Accepted.Before(out[j].Accepted) })
	return out, err
}

// Resume hands each pending delivery of host to queue, at once and then
// every interval, until ctx ends: what a restart left, and what a full
// queue could not take. queue returns false when it can take no more now.
func Resume(ctx context.Context, s Inbox, host string, every time.Duration, queue func(Delivery) bool, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pending, err := s.Pending(ctx)
		if err != nil {
			log.Error("reading the inbox", "err", err)
		}
		for _, d := range pending {
			if d.Host == host && !queue(d) {
				break // full: the next tick
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
