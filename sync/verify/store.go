package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("verifications")

// Store keeps the pending verifications, so that a restart (or, with a
// shared store, another replica) resumes them. A verification is written
// before its check is created and deleted only after the check is
// completed.
type Store interface {
	// Put writes a verification; ErrNotHeld when another replica took it.
	Put(ctx context.Context, st *State) error
	// Delete removes a verification; ErrNotHeld as Put.
	Delete(ctx context.Context, key string) error
	// All returns what this process works on at start: every stored
	// verification, or in a shared store those this replica holds and
	// those lost replicas left (claimed).
	All(ctx context.Context) ([]*State, error)
	// Adopt claims the verifications lost replicas left since; a store of
	// one process has none.
	Adopt(ctx context.Context) ([]*State, error)
}

// ErrNotHeld: another replica holds the verification now (this one was
// taken for lost); it goes on there.
var ErrNotHeld = errors.New("verification taken over by another replica")

// FileStore keeps pending verifications on disk (bbolt): one process.
type FileStore struct{ db *bolt.DB }

var _ Store = (*FileStore)(nil)

// OpenStore opens (or creates) the store in dir.
func OpenStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The timeout turns a second bot on the same data dir into an error, not a hang.
	db, err := bolt.Open(filepath.Join(dir, "verifications.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening the verification store in %s: %w", dir, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &FileStore{db: db}, nil
}

// Close closes the store.
func (s *FileStore) Close() error { return s.db.Close() }

// Put writes a verification.
func (s *FileStore) Put(_ context.Context, st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(st.Request.Key()), b)
	})
}

// Delete removes a verification.
func (s *FileStore) Delete(_ context.Context, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) })
}

// All returns every stored verification. Entries that do not decode are
// reported in the error and left in place for a person to look at; the
// others are returned all the same.
func (s *FileStore) All(context.Context) ([]*State, error) {
	var out []*State
	var bad []error
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			st := &State{}
			if err := json.Unmarshal(v, st); err != nil {
				bad = append(bad, fmt.Errorf("verification %s: %w", k, err))
				return nil
			}
			out = append(out, st)
			return nil
		})
	})
	return out, errors.Join(append(bad, err)...)
}

// Adopt: one process holds everything.
func (s *FileStore) Adopt(context.Context) ([]*State, error) { return nil, nil }
