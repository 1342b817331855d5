// Package yamlconf decodes a configuration file into a struct strictly and
// explains what it refuses in the file's own terms: the line, the key's
// path and what was expected, with "did you mean" for a slip, never a Go
// type name. Keys are camelCase; the same key in another style
// (webhook_secret for webhookSecret) is read as an alias and reported, so
// files written for older versions keep working.
package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/bot/suggest"
)

// Error is one thing wrong in a file.
type Error struct {
	Line int
	Key  string // path of the key, e.g. github.app.integrationID
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Key == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Key, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
}

// File is what Decode learnt of a file besides its values.
type File struct {
	// Aliases: keys spelled in an old style, as lines to log.
	Aliases []string
	// Lines: the line of each key path, to place errors found later.
	Lines map[string]int
}

// Locate gives err (an *Error naming a key and no line) the line of its
// key, or of the nearest enclosing key the file has.
func (f *File) Locate(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Line != 0 || f == nil {
		return err
	}
	for key := e.Key; key != ""; key = parent(key) {
		if l, ok := f.Lines[key]; ok {
			return &Error{Line: l, Key: e.Key, Msg: e.Msg}
		}
	}
	return err
}

func parent(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

// Decode decodes data into out, a pointer to a struct with yaml tags. Its
// error lists every *Error the file has, one a line (errors.Join), so
// one run of a check shows all there is to mend. An empty file leaves out
// as it is.
func Decode(data []byte, out any) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(err)
	}
	c := &checker{File: File{Lines: map[string]int{}}}
	if len(doc.Content) == 0 {
		return &c.File, nil
	}
	c.note(c.walk(doc.Content[0], reflect.TypeOf(out).Elem(), ""))
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	if err := doc.Content[0].Decode(out); err != nil {
		return nil, decodeError(err)
	}
	return &c.File, nil
}

type checker struct {
	File
	errs []error
}

// note keeps err, if any, and the walk goes on to the next key.
func (c *checker) note(err error) {
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

func (c *checker) walk(n *yaml.Node, t reflect.Type, path string) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // the type reads itself and says what is wrong
	}
	switch {
	case t == durationType:
		if _, err := time.ParseDuration(n.Value); n.Kind != yaml.ScalarNode || err != nil {
			return want(n, path, "a duration such as 30s, 10m or 1h")
		}
		return nil
	case t.Kind() == reflect.Struct:
		return c.walkStruct(n, t, path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return want(n, path, "a mapping of names to values")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.Lines[join(path, n.Content[i].Value)] = n.Content[i].Line
			c.note(c.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)))
		}
		return nil
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return want(n, path, "a list")
		}
		for i, e := range n.Content {
			c.Lines[fmt.Sprintf("%s[%d]", path, i)] = e.Line
			c.note(c.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)))
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return want(n, path, "a single value")
	}
	switch t.Kind() {
	case reflect.Bool:
		if _, err := strconv.ParseBool(n.Value); err != nil || n.Tag != "!!bool" {
			return want(n, path, "true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(n.Value, 0, t.Bits()); err != nil {
			return want(n, path, "a whole number")
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(n.Value, 0, t.Bits()); err != nil {
			return want(n, path, "a whole number, 0 or more")
		}
	case reflect.Float32, reflect.Float64:
		if _, err := strconv.ParseFloat(n.Value, t.Bits()); err != nil {
			return want(n, path, "a number")
		}
	}
	return nil
}

func (c *checker) walkStruct(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.MappingNode {
		return want(n, path, "a mapping (key: value lines)")
	}
	fields := Fields(t)
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names) // the same suggestion and list every time
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		name := k.Value
		ft, ok := fields[name]
		if !ok {
			if canon := aliasOf(name, names); canon != "" {
				c.Aliases = append(c.Aliases, fmt.Sprintf("line %d: %s is spelled %s now; the old spelling is still read", k.Line, join(path, name), join(path, canon)))
				k.Value, name, ft, ok = canon, canon, fields[canon], true
			}
		}
		if !ok {
			c.note(&Error{Line: k.Line, Key: join(path, name), Msg: "unknown key." + suggest.DidYouMean(name, names, func(s string) string { return join(path, s) }) + " Known here: " + strings.Join(names, ", ") + "."})
			continue
		}
		if line, dup := seen[name]; dup {
			c.note(&Error{Line: k.Line, Key: join(path, name), Msg: fmt.Sprintf("set twice (also on line %d)", line)})
			continue
		}
		seen[name] = k.Line
		c.Lines[join(path, name)] = k.Line
		c.note(c.walk(n.Content[i+1], ft, join(path, name)))
	}
	return nil
}

// Fields maps the yaml keys of struct t (inline structs included) to
// their types.
func Fields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range Fields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// aliasOf is the key that name spells in another style: the same letters
// and digits, ignoring case, "_" and "-".
func aliasOf(name string, keys []string) string {
	for _, k := range keys {
		if fold(k) == fold(name) {
			return k
		}
	}
	return ""
}

func fold(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
}

func want(n *yaml.Node, path, what string) error {
	got := "`" + n.Value + "`"
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	}
	return &Error{Line: n.Line, Key: path, Msg: fmt.Sprintf("want %s, not %s", what, got)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// syntaxError is yaml's own message without its package prefix.
func syntaxError(err error) error {
	line, msg := cutLine(err.Error())
	return &Error{Line: line, Msg: "not valid YAML: " + msg}
}

// decodeError turns what the walk did not catch (a type's own
// UnmarshalYAML refusing a value) into an Error.
func decodeError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		err = errors.New(te.Errors[0])
	}
	line, msg := cutLine(err.Error())
	if strings.Contains(msg, "cannot unmarshal") {
		msg = "a value of the wrong kind here" // yaml names Go types; say no more than the line
	}
	return &Error{Line: line, Msg: msg}
}

// cutLine splits "yaml: line 3: msg" into 3 and "msg".
func cutLine(msg string) (int, string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				return l, after
			}
		}
	}
	return 0, msg
}
