// Package providertest holds the golden-file check the provider tests share.
package providertest

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Golden encodes manifests, validates every object against its CRD and
// compares the bytes with testdata/<name>.golden.yaml.
func Golden(t *testing.T, name string, ms []providers.Manifest) {
	t.Helper()
	var buf bytes.Buffer
	for _, m := range ms {
		for _, o := range m.Objects {
			if err := schema.Validate(context.Background(), o); err != nil {
				t.Errorf("%s: %v", m.Path, err)
			}
		}
		b, err := providers.Encode(m.Objects)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("# file: " + m.Path + "\n")
		buf.Write(b)
	}
	path := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, buf.String())
	}
}
