package github

// ResetCaches empties the process-wide tree and blob caches, so that a
// test can count the calls of a bot that never saw the repository.
func ResetCaches() {
	treeCache.Clear()
	blobCache.Clear()
}
