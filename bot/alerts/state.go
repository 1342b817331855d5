package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// state is what the handler remembers between notifications: per group and
// rule, the pull request and the last action; per repository, the count of
// open alert pull requests. Kept in memory.
type state struct {
	groups map[string]*groupState // by rule and group key
	open   map[string]int         // open alert pull requests by repository
}

type groupState struct {
	pr         int
	lastAction time.Time
	resolved   bool
}

func (s *state) group(rule, groupKey string) *groupState {
	if s.groups == nil {
		s.groups, s.open = map[string]*groupState{}, map[string]int{}
	}
	key := rule + "\x00" + groupKey
	g := s.groups[key]
	if g == nil {
		g = &groupState{}
		s.groups[key] = g
	}
	return g
}

// branchOf: alert text never reaches a branch name, only its hash.
func branchOf(rule, groupKey string) string {
	h := sha256.Sum256([]byte(groupKey))
	return "alert-" + rule + "-" + hex.EncodeToString(h[:])[:10]
}
