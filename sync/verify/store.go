package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("verifications")

// Store keeps pending verifications on disk (bbolt), so that a restart
// resumes them. A verification is written before its check is created and
// deleted only after the check is completed.
type Store struct{ db *bolt.DB }

// OpenStore opens (or creates) the store in dir.
func OpenStore(dir string) (*Store, error) {
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
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Put writes a verification.
func (s *Store) Put(st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(st.Request.Key()), b)
	})
}

// Delete removes a verification.
func (s *Store) Delete(key string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) })
}

// All returns every stored verification. Entries that do not decode are
// reported in the error and left in place for a person to look at; the
// others are returned all the same.
func (s *Store) All() ([]*State, error) {
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
