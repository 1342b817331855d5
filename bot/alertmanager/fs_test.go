package alertmanager_test

import "io/fs"

func fsRead(src fs.FS, p string) (string, error) {
	b, err := fs.ReadFile(src, p)
	return string(b), err
}
