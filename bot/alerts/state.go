package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"time"
)

// state is what the handler remembers between notifications: per group and
// rule, the pull request and the last action; per repository, the count of
// open alert pull requests. Kept in a StateStore when the handler has one,
// so that a restart (or another replica) forgets no cooldown and no count.
type state struct {
	Groups map[string]*groupState `json:"groups"` // by rule and group key
	Open   map[string]int         `json:"open"`   // open alert pull requests by repository
}

type groupState struct {
	PR         int       `json:"pr"`
	LastAction time.Time `json:"lastAction"`
	Resolved   bool      `json:"resolved"`
}

// StateStore keeps the state. Hold reads it and holds it, one holder at a
// time (across replicas, for a shared store), until release writes it back.
type StateStore interface {
	Hold(ctx context.Context) (data []byte, release func(ctx context.Context, data []byte) error, err error)
}

// StateFile keeps the state in a file: one process.
type StateFile string

// Hold reads the file (missing: empty); release replaces it whole.
func (f StateFile) Hold(context.Context) ([]byte, func(context.Context, []byte) error, error) {
	b, err := os.ReadFile(string(f))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	return b, func(_ context.Context, b []byte) error {
		tmp := string(f) + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, string(f))
	}, nil
}

func (s *state) group(rule, groupKey string) *groupState {
	if s.Groups == nil {
		s.Groups = map[string]*groupState{}
	}
	if s.Open == nil {
		s.Open = map[string]int{}
	}
	key := rule + "\x00" + groupKey
	g := s.Groups[key]
	if g == nil {
		g = &groupState{}
		s.Groups[key] = g
	}
	return g
}

// branchOf: alert text never reaches a branch name, only its hash.
func branchOf(rule, groupKey string) string {
	h := sha256.Sum256([]byte(groupKey))
	return "alert-" + rule + "-" + hex.EncodeToString(h[:])[:10]
}
