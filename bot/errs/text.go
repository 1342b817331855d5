package errs

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// The parts of an error's text that are for the bot, not for people: the
// API request a client library names (`POST https://…/api/v3/repos/…:`,
// `Post "https://…":`), other API addresses, and anything shaped like a
// token.
var (
	urlCall  = regexp.MustCompile(`(?i)\b(GET|POST|PUT|PATCH|DELETE|HEAD) "[^"]+":\s*`)
	apiCall  = regexp.MustCompile(`(?i)\b(GET|POST|PUT|PATCH|DELETE|HEAD) "?https?://[^\s"]+"?:\s*`)
	apiURL   = regexp.MustCompile(`https?://(api\.github\.com|[^\s"]*/api/v\d)[^\s"]*`)
	tokenish = regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{8,}|github_pat_[A-Za-z0-9_]{8,}|glpat-[A-Za-z0-9_\-]{8,})`)
	// What go-github and GitLab's client leave of an answer once the
	// request is gone: "502 Bad Gateway []", "502 {message: …}".
	gitlabStatus = regexp.MustCompile(`(\d{3}) \{message: (?:\d{3} )?([^{}]*)\}$`)
	hostStatus   = regexp.MustCompile(`(^|: )([45]\d\d)( [^\[{(:]*?)?\s*(\[\]|\{\})?(\s*\(|$)`)
	// A transport's error flattened into a message (wrapped with %v, so
	// Network cannot see its type): dial, read and write errors with
	// their addresses, said in Network's words instead.
	flatDNS = regexp.MustCompile(`dial (?:tcp|udp)\S*: lookup (\S+?)(?: on \S+)?: no such host`)
	flatOp  = regexp.MustCompile(`(?:dial|read|write) (?:tcp|udp)\S*(?: \S+)?: (?:(?:connect|read|write): )?(i/o timeout|connection reset by peer|no route to host|network is unreachable|connection refused)`)
)

// flatWords are Network's words for the flattened errors' endings.
var flatWords = map[string]string{
	"i/o timeout": "it did not answer in time", "connection reset by peer": "the connection was reset",
	"no route to host": "there is no route to it", "network is unreachable": "there is no route to it",
	"connection refused": "the connection was refused",
}

// Text is an error's text as a reply may show it: no internal API address,
// no token, and a host's bare status said in words.
func Text(s string) string {
	s = flatDNS.ReplaceAllString(s, "could not be reached: its name $1 does not resolve")
	s = flatOp.ReplaceAllStringFunc(s, func(m string) string {
		return "could not be reached: " + flatWords[flatOp.FindStringSubmatch(m)[1]]
	})
	s = apiCall.ReplaceAllString(s, "")
	s = apiURL.ReplaceAllString(s, "the host's API")
	s = tokenish.ReplaceAllString(s, "[token]")
	s = gitlabStatus.ReplaceAllString(s, "$1 $2")
	if m := hostStatus.FindStringSubmatchIndex(s); m != nil {
		code, _ := strconv.Atoi(s[m[4]:m[5]])
		words := ""
		if m[6] >= 0 {
			words = strings.TrimSpace(s[m[6]:m[7]])
		}
		if words == "" {
			words = http.StatusText(code)
		}
		said := "the host answered " + strconv.Itoa(code) + " " + words
		if code >= 500 || code == http.StatusTooManyRequests {
			said += " (it kept failing while I retried; try again later)"
		}
		rest := s[m[10]:] // what follows: " (…)" or nothing
		s = s[:m[0]] + s[m[2]:m[3]] + said + rest
	}
	return s
}

// Message is Text of err, with a network failure said in words ("the
// host could not be reached: the connection was refused") in place of the
// transport's own text, which names addresses and system calls.
func Message(err error) string {
	s := err.Error()
	if words, raw := Network(err); words != "" {
		said := "could not be reached: " + words
		if raw != "" && strings.Contains(s, raw) {
			s = strings.Replace(s, raw, said, 1)
		} else {
			s += " (" + said + ")"
		}
		s = apiCall.ReplaceAllString(s, "")
		// What is left of a URL error's "Get \"URL\": " prefix goes with the address.
		s = urlCall.ReplaceAllString(s, "")
	}
	return Text(s)
}
