// Package yamledit changes one value of a YAML file and leaves every other
// byte as the person wrote it: comments, key order, quoting, indentation,
// anchors, other documents. A scalar is replaced in place, at the position
// the parser reports; a missing key is added as a new line under its parent.
package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Step is one step of a path: a map key, or a list item selected by a
// field's value ("name=web").
type Step struct {
	Key           string
	Field, Equals string
	// Image selects the scalar list item that names this image, as
	// kustomize's image overrides write them: "name", "name:tag",
	// "name@digest" or "name=newName:tag".
	Image string
	// Item selects a list item by its 1-based position.
	Item int
}

// Path parses "spec.template.spec.containers[name=web].image".
func Path(s string) ([]Step, error) {
	var out []Step
	for _, part := range strings.Split(s, ".") {
		key, sel, hasSel := strings.Cut(part, "[")
		if key != "" {
			out = append(out, Step{Key: key})
		}
		if hasSel {
			f, v, ok := strings.Cut(strings.TrimSuffix(sel, "]"), "=")
			if !ok || !strings.HasSuffix(sel, "]") {
				return nil, fmt.Errorf("path %q: want [field=value]", s)
			}
			out = append(out, Step{Field: f, Equals: v})
		}
	}
	return out, nil
}

// Doc is one document of a multi-document file.
type Doc struct {
	Root *yaml.Node
}

// Docs parses every document of src.
func Docs(src []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var out []*yaml.Node
	for {
		n := &yaml.Node{}
		err := dec.Decode(n)
		if err != nil {
			if err.Error() == "EOF" {
				return out, nil
			}
			return nil, err
		}
		out = append(out, n)
	}
}

// Find returns the node at path in a document, or nil.
func Find(doc *yaml.Node, path []Step) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, s := range path {
		n = resolve(n)
		if n == nil {
			return nil
		}
		switch {
		case s.Key != "":
			n = mapValue(n, s.Key)
		case s.Image != "":
			n = imageItem(n, s.Image)
		case s.Item > 0:
			if n.Kind != yaml.SequenceNode || s.Item > len(n.Content) {
				return nil
			}
			n = n.Content[s.Item-1]
		default:
			n = listItem(n, s.Field, s.Equals)
		}
	}
	return resolve(n)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func imageItem(n *yaml.Node, image string) *yaml.Node {
	if n.Kind != yaml.SequenceNode {
		return nil
	}
	for _, item := range n.Content {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode {
			continue
		}
		v := item.Value
		if v == image || strings.HasPrefix(v, image+":") || strings.HasPrefix(v, image+"=") || strings.HasPrefix(v, image+"@") {
			return item
		}
	}
	return nil
}

func listItem(n *yaml.Node, field, equals string) *yaml.Node {
	if n.Kind != yaml.SequenceNode {
		return nil
	}
	for _, item := range n.Content {
		if v := mapValue(resolve(item), field); v != nil && v.Value == equals {
			return item
		}
	}
	return nil
}

// SetScalar sets the scalar at path in document doc of src to value and
// returns the new file; every byte outside that scalar is kept. The new
// value keeps the old one's quoting style.
func SetScalar(src []byte, doc int, path []Step, value string) ([]byte, error) {
	root, err := docAt(src, doc)
	if err != nil {
		return nil, err
	}
	n := Find(root, path)
	if n == nil {
		return nil, errMissing
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("not a single value")
	}
	start := offset(src, n.Line, n.Column)
	if start < 0 {
		return nil, fmt.Errorf("position of the value not found")
	}
	end := start + scalarLen(src[start:], n)
	return append(append(append([]byte{}, src[:start]...), []byte(render(value, n.Style))...), src[end:]...), nil
}

var errMissing = fmt.Errorf("not found")

// IsMissing reports whether SetScalar failed because the path is absent.
func IsMissing(err error) bool { return err == errMissing }

// offset turns a 1-based line and column into a byte offset.
func offset(src []byte, line, col int) int {
	pos := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[pos:], '\n')
		if i < 0 {
			return -1
		}
		pos += i + 1
	}
	// Columns count runes; the values the bot edits sit after ASCII keys.
	runes := []rune(string(src[pos:]))
	if col-1 > len(runes) {
		return -1
	}
	return pos + len(string(runes[:col-1]))
}

// scalarLen is the length in src of the scalar n as written.
func scalarLen(src []byte, n *yaml.Node) int {
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		for i := 1; i < len(src); i++ {
			if src[i] == '\\' {
				i++
				continue
			}
			if src[i] == '"' {
				return i + 1
			}
		}
	case yaml.SingleQuotedStyle:
		for i := 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
	}
	// Plain: up to a comment, the end of the line, or a flow delimiter.
	i := 0
	for i < len(src) && src[i] != '\n' {
		if src[i] == '#' && i > 0 && (src[i-1] == ' ' || src[i-1] == '\t') {
			break
		}
		if n.Style&yaml.FlowStyle == 0 && (src[i] == ',' || src[i] == '}' || src[i] == ']') && inFlow(src) {
			break
		}
		i++
	}
	return len(bytes.TrimRight(src[:i], " \t"))
}

// inFlow is a cheap guess that the scalar sits inside {...} or [...] on its line.
func inFlow(src []byte) bool {
	line := src
	if i := bytes.IndexByte(src, '\n'); i >= 0 {
		line = src[:i]
	}
	return bytes.ContainsAny(line, ",}]")
}

func render(v string, style yaml.Style) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(v)
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	// Plain, unless YAML would read it as something else than the string.
	var probe any
	// ": " and " #" end a plain scalar; a colon inside one (an image tag) does not.
	if err := yaml.Unmarshal([]byte("v: "+v), &probe); err != nil || fmt.Sprint(probe.(map[string]any)["v"]) != v ||
		strings.Contains(v, ": ") || strings.Contains(v, " #") || strings.HasSuffix(v, ":") || strings.HasPrefix(v, "#") || strings.Contains(v, "\n") {
		return strconv.Quote(v)
	}
	return v
}

// Insert adds "key: value" (value written as YAML, possibly several lines)
// as the last entry of the block mapping at parent; the rest of the file is
// kept byte for byte.
func Insert(src []byte, doc int, parent []Step, key string, value any) ([]byte, error) {
	root, err := docAt(src, doc)
	if err != nil {
		return nil, err
	}
	p := Find(root, parent)
	if p == nil || p.Kind != yaml.MappingNode || p.Style&yaml.FlowStyle != 0 || len(p.Content) == 0 {
		return nil, fmt.Errorf("no block mapping to add %s to", key)
	}
	indent := p.Content[0].Column - 1
	last := lastLine(p)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{key: value}); err != nil {
		return nil, err
	}
	body := buf.Bytes()
	var b strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimRight(string(body), "\n"), "\n") {
		b.WriteString(strings.Repeat(" ", indent) + strings.TrimRight(l, "\n") + "\n")
	}
	at := offset(src, last+1, 1)
	if at < 0 { // the mapping ends the file
		out := append([]byte{}, src...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, b.String()...), nil
	}
	return append(append(append([]byte{}, src[:at]...), b.String()...), src[at:]...), nil
}

// lastLine is the last line any part of n is written on.
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		if cl := lastLine(c); cl > l {
			l = cl
		}
	}
	return l
}

// AppendValue adds value (a mapping or list, written as YAML) as the last
// item of the block sequence at path, or adds the key with a one-item
// sequence when it is missing; the rest of the file is kept byte for byte.
func AppendValue(src []byte, doc int, path []Step, value any) ([]byte, error) {
	root, err := docAt(src, doc)
	if err != nil {
		return nil, err
	}
	seq := Find(root, path)
	if seq == nil {
		if len(path) == 0 {
			return nil, errors.New("no path to add to")
		}
		return Insert(src, doc, path[:len(path)-1], path[len(path)-1].Key, []any{value})
	}
	if seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return nil, fmt.Errorf("%s is not a block list", path[len(path)-1].Key)
	}
	dashLine := offset(src, seq.Content[0].Line, 1)
	dashCol := strings.Index(string(src[dashLine:]), "-")
	if dashCol < 0 {
		return nil, errors.New("cannot find the list's dashes")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(value); err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		lead := "  "
		if i == 0 {
			lead = "- "
		}
		b.WriteString(strings.Repeat(" ", dashCol) + lead + l + "\n")
	}
	at := offset(src, lastLine(seq)+1, 1)
	if at < 0 {
		out := append([]byte{}, src...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, b.String()...), nil
	}
	return append(append(append([]byte{}, src[:at]...), b.String()...), src[at:]...), nil
}

// Append adds value (a scalar) as the last item of the sequence at path,
// in the sequence's own style (block items with the same indentation and
// dash, or a flow list), or adds the key with a one-item block sequence
// when it is missing; the rest of the file is kept byte for byte.
func Append(src []byte, doc int, path []Step, value string) ([]byte, error) {
	root, err := docAt(src, doc)
	if err != nil {
		return nil, err
	}
	seq := Find(root, path)
	if seq == nil || seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle == 0 {
		return AppendValue(src, doc, path, value)
	}
	// [a, b] -> [a, b, value]: before the closing bracket of the list.
	start := offset(src, seq.Line, seq.Column)
	if start < 0 {
		return nil, errors.New("cannot find the list")
	}
	end := closing(src, start)
	if end < 0 {
		return nil, errors.New("cannot find the end of the list")
	}
	sep := ", "
	if len(seq.Content) == 0 {
		sep = ""
	}
	return append(append(append([]byte{}, src[:end]...), sep+render(value, 0)...), src[end:]...), nil
}

// closing finds the "]" that closes the flow list opening at start.
func closing(src []byte, start int) int {
	depth := 0
	quote := byte(0)
	for i := start; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// docAt parses src and returns its document number doc.
func docAt(src []byte, doc int) (*yaml.Node, error) {
	docs, err := Docs(src)
	if err != nil {
		return nil, err
	}
	if doc < 0 || doc >= len(docs) {
		return nil, fmt.Errorf("no document %d", doc)
	}
	return docs[doc], nil
}

// Set sets the value at path in document doc: a scalar in place, or, when
// the path is missing, the key added under the deepest mapping of the path
// that exists (with the missing parents). A map value sets each of its
// leaves the same way. The rest of the file is kept byte for byte.
func Set(src []byte, doc int, path []Step, value any) ([]byte, error) {
	if m, ok := value.(map[string]any); ok {
		root, err := docAt(src, doc)
		if err != nil {
			return nil, err
		}
		if n := Find(root, path); n != nil && n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle == 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := src
			for _, k := range keys {
				p := append(append([]Step{}, path...), Step{Key: k})
				if out, err = Set(out, doc, p, m[k]); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		return insertPath(src, doc, path, value)
	}
	out, err := SetScalar(src, doc, path, fmt.Sprint(value))
	if IsMissing(err) {
		return insertPath(src, doc, path, value)
	}
	return out, err
}

// insertPath adds value at path under the deepest mapping that exists.
func insertPath(src []byte, doc int, p []Step, value any) ([]byte, error) {
	root, err := docAt(src, doc)
	if err != nil {
		return nil, err
	}
	for i := len(p) - 1; i >= 0; i-- { // down to the document's top level
		parent := Find(root, p[:i])
		if parent == nil || parent.Kind != yaml.MappingNode {
			continue
		}
		if p[i].Key == "" {
			return nil, errors.New("cannot add a list item")
		}
		v := value
		for j := len(p) - 1; j > i; j-- {
			if p[j].Key == "" {
				return nil, errors.New("cannot add a list item")
			}
			v = map[string]any{p[j].Key: v}
		}
		return Insert(src, doc, p[:i], p[i].Key, v)
	}
	return nil, errors.New("no place to add it")
}

// Delete removes the key at path (the last step, a map key) with its
// value, whole lines of a block mapping; the rest is kept byte for byte.
func Delete(src []byte, doc int, path []Step) ([]byte, error) {
	if len(path) == 0 || path[len(path)-1].Key == "" {
		return nil, errors.New("no key to delete")
	}
	root, err := docAt(src, doc)
	if err != nil {
		return nil, err
	}
	parent := Find(root, path[:len(path)-1])
	if parent == nil || parent.Kind != yaml.MappingNode || parent.Style&yaml.FlowStyle != 0 {
		return nil, errMissing
	}
	for i := 0; i+1 < len(parent.Content); i += 2 {
		k := parent.Content[i]
		if k.Value != path[len(path)-1].Key {
			continue
		}
		if len(parent.Content) == 2 {
			return nil, errors.New("the only key of its mapping")
		}
		start := offset(src, k.Line, 1)
		end := offset(src, lastLine(parent.Content[i+1])+1, 1)
		if start < 0 {
			return nil, errMissing
		}
		if end < 0 {
			end = len(src)
		}
		return append(append([]byte{}, src[:start]...), src[end:]...), nil
	}
	return nil, errMissing
}
