package github

import "github.com/palantir/go-githubapp/githubapp"

// ResetCaches empties the process-wide tree and blob caches, so that a
// test can count the calls of a bot that never saw the repository.
func ResetCaches() {
	treeCache.Clear()
	blobCache.Clear()
}

// NewClientWith returns a client that reaches repositories only through
// the App's installations (OpenRepo).
func NewClientWith(cc githubapp.ClientCreator) *Client {
	return &Client{cc: cc, heads: map[string]head{}}
}
