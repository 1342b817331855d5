package forge

import (
	"errors"
	"sync"
)

// FileReads is a read-through record of one event's file reads, so that a
// command asks the host for each file at most once. A file's absence is
// kept too; another error (a timeout, a refusal) is not, and the next
// read asks again. The zero value is ready to use.
type FileReads struct {
	mu sync.Mutex
	m  map[string]fileRead
}

type fileRead struct {
	b   []byte
	err error
}

// Read returns what read gave for key the first time it succeeded or found
// nothing, calling read only when there is no such answer yet.
func (f *FileReads) Read(key string, read func() ([]byte, error)) ([]byte, error) {
	f.mu.Lock()
	r, ok := f.m[key]
	f.mu.Unlock()
	if ok {
		return r.b, r.err
	}
	b, err := read()
	if err == nil || errors.Is(err, ErrNotFound) {
		f.mu.Lock()
		if f.m == nil {
			f.m = map[string]fileRead{}
		}
		f.m[key] = fileRead{b, err}
		f.mu.Unlock()
	}
	return b, err
}
