package providertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Load returns the object of kind and name from a multi-document YAML file.
func Load(t testing.TB, file, kind, name string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// Decoded as the API machinery does, with integers as int64.
		u := &unstructured.Unstructured{}
		if len(raw) == 0 || string(raw) == "null" || u.UnmarshalJSON(raw) != nil {
			continue
		}
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("%s: no %s %s", file, kind, name)
	return nil
}
