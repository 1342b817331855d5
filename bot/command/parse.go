package command

import (
	"regexp"
	"strings"

	"github.com/google/shlex"
)

// MaxCommands caps the commands one comment may carry, so a pasted log full
// of slashes cannot fan out into dozens of pull requests.
const MaxCommands = 5

// Invocation is one command line of a comment.
type Invocation struct {
	Verb string   // lower case, without the slash
	Args []string // split like a shell would, never run by one
	Line string   // the line as written, for replies
	Err  error    // set when the line could not be split
}

// commandLine matches a line that starts with /verb. Anchored at the start
// of the line, so "> /deploy" (a quote) or "see /deploy" is not a command.
var commandLine = regexp.MustCompile(`^/([A-Za-z][A-Za-z0-9-]*)(?:\s+(.*))?$`)

// htmlComment: what a host's renderer hides (to its end, or the comment's).
var htmlComment = regexp.MustCompile(`(?s)<!--.*?(-->|$)`)

// ParseComment finds the command lines of a comment. Quoted lines, code
// blocks (fenced or indented) and HTML comments are skipped: they show
// commands, or hide them, they do not give them.
func ParseComment(body string) []Invocation {
	var out []Invocation
	fence := ""
	// An HTML comment is not shown to the thread's readers: a command in
	// it must not run. One left open hides the rest of the comment.
	body = htmlComment.ReplaceAllString(body, "")
	for _, raw := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		line := strings.TrimRight(raw, " \t")
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if indent < 4 {
			if f := fenceOf(trimmed); f != "" {
				switch {
				case fence == "":
					fence = f
				case strings.HasPrefix(f, fence) && strings.Trim(trimmed, f[:1]) == "":
					fence = ""
				}
				continue
			}
		}
		if fence != "" || indent >= 4 || strings.HasPrefix(line, "\t") {
			continue
		}
		m := commandLine.FindStringSubmatch(trimmed)
		if m == nil {
			continue
		}
		inv := Invocation{Verb: strings.ToLower(m[1]), Line: trimmed}
		if m[2] != "" {
			inv.Args, inv.Err = shlex.Split(m[2])
		}
		out = append(out, inv)
	}
	return out
}

// fenceOf returns the fence (``` or ~~~, three or more) that opens line, if any.
func fenceOf(line string) string {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 {
			return strings.Repeat(c, n)
		}
	}
	return ""
}
