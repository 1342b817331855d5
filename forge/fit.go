package forge

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Hosts' limits on the text of a pull request, a comment or a check.
const (
	// GitHubBodyMax: pull request bodies and comments (characters; bytes
	// are counted here, which is stricter).
	GitHubBodyMax = 65536
	// GitLabBodyMax: merge request descriptions and notes.
	GitLabBodyMax = 1000000
)

// Fit keeps a body within a host's limit of n bytes: the part before the
// bot's trailing markers (<!-- gitops-bot… -->, which carry state) is cut,
// with a note of how much was left out; the markers are kept whole.
func Fit(body string, n int) string {
	if len(body) <= n {
		return body
	}
	text, tail := body, ""
	if i := strings.Index(body, "<!-- gitops-bot"); i >= 0 {
		text, tail = body[:i], body[i:]
	}
	const noteFmt = "\n\n(%d characters left out to stay within the host's limit)\n\n"
	room := n - len(tail) - len(fmt.Sprintf(noteFmt, len(body)))
	if room < 0 {
		room = 0
	}
	kept := clip(text, room)
	return kept + fmt.Sprintf(noteFmt, len(text)-len(kept)) + tail
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
