package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/bot/config/yamlconf"
)

const schemaFile = "../../docs/gitops-bot.schema.json"

// The shipped JSON Schema has exactly the keys the bot reads, and accepts
// and refuses what the bot does.
func TestSchemaMatchesTheConfig(t *testing.T) {
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var fromSchema, fromType []string
	schemaKeys(doc, "", &fromSchema)
	typeKeys(reflect.TypeOf(Config{}), "", &fromType)
	sort.Strings(fromSchema)
	sort.Strings(fromType)
	if !reflect.DeepEqual(fromSchema, fromType) {
		t.Errorf("schema keys differ from the config's:\nschema: %v\nconfig: %v", fromSchema, fromType)
	}

	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Glob("../../examples/*/.gitops-bot.yaml")
	if len(examples) < 2 {
		t.Fatalf("examples: %v", examples)
	}
	files := map[string]bool{ // file: valid
		"provider: flux\nverifyTimeout: 15m\naccess: {minPermission: maintain, teams: [acme/platform]}\n": true,
		"environments:\n  - name: prod\n    argocd: {destinationName: eu}\n":                              true,
		"provider: fluxcd\n":                   false,
		"provder: flux\n":                      false,
		"environments:\n  - name: Prod\n":      false,
		"verifyTimeout: ten minutes\n":         false,
		"access: {teams: [platform]}\n":        false,
		"environments:\n  - dir: clusters/x\n": false,
	}
	for _, e := range examples {
		b, _ := os.ReadFile(e)
		files[string(b)] = true
	}
	for file, valid := range files {
		var v any
		if err := yaml.Unmarshal([]byte(file), &v); err != nil {
			t.Fatal(err)
		}
		v = jsonValue(v)
		schemaErr := sch.Validate(v)
		_, botErr := Parse([]byte(file))
		if (schemaErr == nil) != valid || (botErr == nil) != valid {
			t.Errorf("%q: schema says %v, the bot says %v; want valid=%v", file, schemaErr, botErr, valid)
		}
	}
}

func schemaKeys(s map[string]any, path string, out *[]string) {
	if items, ok := s["items"].(map[string]any); ok {
		schemaKeys(items, path+"[]", out)
	}
	props, _ := s["properties"].(map[string]any)
	for k, v := range props {
		*out = append(*out, path+"."+k)
		schemaKeys(v.(map[string]any), path+"."+k, out)
	}
}

func typeKeys(t reflect.Type, path string, out *[]string) {
	switch t.Kind() {
	case reflect.Slice:
		typeKeys(t.Elem(), path+"[]", out)
	case reflect.Struct:
		if t == reflect.TypeOf(Duration{}) {
			return
		}
		for k, ft := range yamlconf.Fields(t) {
			*out = append(*out, path+"."+k)
			typeKeys(ft, path+"."+k, out)
		}
	}
}

// jsonValue turns yaml's decoded values into what a JSON decoder gives.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonValue(e)
		}
	case []any:
		for i, e := range v {
			v[i] = jsonValue(e)
		}
	case int:
		return json.Number(strconv.Itoa(v))
	}
	return v
}
