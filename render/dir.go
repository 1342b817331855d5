package render

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is a directory on disk as a Source (a checkout; .git is left out).
type Dir string

// Under lists the regular files under dir, sorted.
func (d Dir) Under(_ context.Context, dir string) ([]string, error) {
	root := filepath.Join(string(d), filepath.FromSlash(dir))
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return filepath.SkipAll
			}
			return err
		}
		if e.IsDir() && e.Name() == ".git" {
			return filepath.SkipDir
		}
		if e.Type().IsRegular() {
			rel, err := filepath.Rel(string(d), p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// Read reads a file; paths leaving the directory are refused.
func (d Dir) Read(_ context.Context, p string) ([]byte, error) {
	c := path.Clean("/" + p)
	if strings.Contains(c, "/../") {
		return nil, fs.ErrNotExist
	}
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(strings.TrimPrefix(c, "/"))))
}

// Files is a repository's files in memory as a Source.
type Files map[string]string

// Under lists the files under dir, sorted.
func (m Files) Under(_ context.Context, dir string) ([]string, error) {
	var out []string
	for p := range m {
		if dir == "" || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Read returns a file's content.
func (m Files) Read(_ context.Context, p string) ([]byte, error) {
	c, ok := m[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(c), nil
}
