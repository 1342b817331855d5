// Package marker reads and writes the record the bot hides in the body of
// every pull request it opens.
package marker

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/providers"
)

// Marker is the machine-readable record the bot hides in the body of every
// pull request it opens, so that after the merge it knows what it changed
// and what to verify without any state of its own.
type Marker struct {
	Version      int      `json:"v"`
	Command      string   `json:"command"`
	Requester    string   `json:"requester"`
	Provider     string   `json:"provider"`
	Environments []string `json:"environments"`
	Objects      []Object `json:"objects"`
}

// Object is one object the pull request manages.
type Object struct {
	providers.Ref
	Env  string `json:"env"`
	Path string `json:"path"`
}

const (
	markerVersion = 1
	markerOpen    = "<!-- gitops-bot:marker "
	markerClose   = " -->"
)

// String renders the marker as an HTML comment. encoding/json escapes <, >
// and &, so user text in it can never close the comment early.
func (m Marker) String() string {
	m.Version = markerVersion
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings and slices: cannot fail
	}
	return markerOpen + string(b) + markerClose
}

// Parse finds the marker in a pull request body. ok is false when
// there is none (a pull request the bot did not open). The bot's marker is
// the last thing it writes, after any quoted user text that might imitate it.
func Parse(body string) (m Marker, ok bool, err error) {
	i := strings.LastIndex(body, markerOpen)
	if i < 0 {
		return Marker{}, false, nil
	}
	rest := body[i+len(markerOpen):]
	j := strings.Index(rest, markerClose)
	if j < 0 {
		return Marker{}, true, fmt.Errorf("marker is not closed")
	}
	if err := json.Unmarshal([]byte(rest[:j]), &m); err != nil {
		return Marker{}, true, fmt.Errorf("marker: %v", err)
	}
	if m.Version != markerVersion {
		return m, true, fmt.Errorf("marker version %d, want %d", m.Version, markerVersion)
	}
	return m, true, nil
}
