package forge

import (
	"fmt"
	"path"
	"strings"
)

// CleanPath turns a repository path written by a user or a template into its
// canonical form, and refuses anything that could leave the repository or
// touch the host's own configuration: absolute paths, "..", the .git and
// .github directories (any letter case), control characters and backslashes.
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "", fmt.Errorf("path %q: control characters and backslashes are not allowed", p)
		}
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q: must be relative to the repository root", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("path %q: \"..\" is not allowed", p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", fmt.Errorf("path %q: names the repository root, not a file", p)
	}
	first := strings.ToLower(strings.SplitN(c, "/", 2)[0])
	if first == ".git" || first == ".github" || first == ".gitlab" {
		return "", fmt.Errorf("path %q: the bot never writes under %s/", p, first)
	}
	return c, nil
}

// CleanDir is CleanPath for a directory, where "" and "." mean the root.
func CleanDir(d string) (string, error) {
	if d == "" || d == "." || d == "./" {
		return "", nil
	}
	return CleanPath(strings.TrimPrefix(d, "./"))
}

// Validate checks a change before any host call: a branch, a base, at least
// one file, and every path clean and unique.
func (c Change) Validate() error {
	if c.Branch == "" || c.Base == "" {
		return fmt.Errorf("change needs a branch and a base")
	}
	if c.Branch == c.Base {
		return fmt.Errorf("change would write to its base branch %q", c.Base)
	}
	if len(c.Files) == 0 {
		return fmt.Errorf("change has no files")
	}
	seen := map[string]bool{}
	for _, f := range c.Files {
		cp, err := CleanPath(f.Path)
		if err != nil {
			return err
		}
		if cp != f.Path {
			return fmt.Errorf("path %q is not in canonical form (%q)", f.Path, cp)
		}
		if seen[cp] {
			return fmt.Errorf("path %q appears twice in the change", cp)
		}
		seen[cp] = true
	}
	return nil
}
