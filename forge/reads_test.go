package forge

import (
	"errors"
	"fmt"
	"testing"
)

// A file and a file's absence are read once; a failure is asked again.
func TestFileReadsAskOnce(t *testing.T) {
	var f FileReads
	calls := map[string]int{}
	answers := map[string]error{"a": nil, "gone": fmt.Errorf("gone: %w", ErrNotFound), "flaky": errors.New("timeout")}
	for range 2 {
		for key, err := range answers {
			f.Read(key, func() ([]byte, error) { calls[key]++; return []byte(key), err })
		}
	}
	if calls["a"] != 1 || calls["gone"] != 1 || calls["flaky"] != 2 {
		t.Errorf("calls = %v, want a and gone once, flaky twice", calls)
	}
	if b, err := f.Read("a", nil); string(b) != "a" || err != nil {
		t.Errorf("a = %q, %v", b, err)
	}
}
