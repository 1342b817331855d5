package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// state is what the handler remembers between notifications: per group and
// rule, the pull request and the last action; per repository, the count of
// open alert pull requests. Kept in a file when the handler has one, so
// that a restart forgets no cooldown and no count.
type state struct {
	Groups map[string]*groupState `json:"groups"` // by rule and group key
	Open   map[string]int         `json:"open"`   // open alert pull requests by repository
	loaded bool
}

type groupState struct {
	PR         int       `json:"pr"`
	LastAction time.Time `json:"lastAction"`
	Resolved   bool      `json:"resolved"`
}

// load reads the state from path once ("" or a missing file: empty).
func (s *state) load(path string) error {
	if s.loaded || path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		if err := json.Unmarshal(b, s); err != nil {
			return fmt.Errorf("alert state %s: %w", path, err)
		}
	}
	s.loaded = true
	return nil
}

// save writes the state to path, whole or not at all.
func (s *state) save(path string) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
