package errs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Error texts as go-github, GitLab's client and net/http write them
// become text for people: what failed, no internal address, no token.
func TestTextForPeople(t *testing.T) {
	for in, want := range map[string]string{
		"opening the pull request: opening pull request: POST http://127.0.0.1:39025/api/v3/repos/acme/fleet/pulls: 502 Bad Gateway []": "opening the pull request: opening pull request: the host answered 502 Bad Gateway (it kept failing while I retried; try again later)",
		`creating tree: Post "http://127.0.0.1:39025/api/v3/repos/acme/fleet/git/trees": context deadline exceeded`:                     "creating tree: context deadline exceeded",
		"merge request of gitops-bot/x: POST https://gitlab.example.com/api/v4/projects/7/merge_requests: 403 {message: 403 Forbidden}": "merge request of gitops-bot/x: the host answered 403 Forbidden",
		"fetching https://x-access-token:ghs_abcdefghijklmnop@github.com/acme/fleet.git failed":                                         "fetching https://x-access-token:[token]@github.com/acme/fleet.git failed",
		"reading branch main: GET https://api.github.com/repos/acme/fleet/branches/main: 404 Not Found []":                              "reading branch main: the host answered 404 Not Found",
		"no such workload web in environment staging":                                                                                   "no such workload web in environment staging",
		"see https://api.github.com/repos/acme/fleet/pulls/3 for details":                                                               "see the host's API for details",
	} {
		got := Text(in)
		if got != want {
			t.Errorf("Text(%q)\n = %q\nwant %q", in, got, want)
		}
		if strings.Contains(got, "/api/v") || strings.Contains(got, "ghs_") {
			t.Errorf("still internal: %q", got)
		}
	}
	if got := Message(errors.New("POST https://api.github.com/x: 500 []")); got != "the host answered 500 Internal Server Error (it kept failing while I retried; try again later)" {
		t.Errorf("Message: %q", got)
	}
}

func TestTextKeepsWhatFollowsTheStatus(t *testing.T) {
	in := "opening pull request: POST https://api.github.com/repos/a/b/pulls: 422 Unprocessable Entity [] (branch x remains: commenting again reuses it)"
	want := "opening pull request: the host answered 422 Unprocessable Entity (branch x remains: commenting again reuses it)"
	if got := Text(in); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A reply never quotes a transport's error: what failed, then why in
// words, with no address, port or system call.
func TestMessageSaysNetworkFailuresInWords(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, refused := http.Get(closed.URL + "/api/v3/repos/acme/fleet/git/trees")
	dns := &url.Error{Op: "Get", URL: "https://charts.example.invalid/index.yaml", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "charts.example.invalid", IsNotFound: true}}}
	late := &url.Error{Op: "Post", URL: "http://127.0.0.1:39025/api/v3/repos/acme/fleet/git/trees", Err: context.DeadlineExceeded}
	for err, want := range map[error]string{
		fmt.Errorf("opening the pull request: creating tree: %w", refused): "opening the pull request: creating tree: could not be reached: the connection was refused",
		fmt.Errorf("the index of https://charts.example.invalid: %w", dns): "the index of https://charts.example.invalid: could not be reached: its name charts.example.invalid does not resolve",
		fmt.Errorf("creating tree: %w", late):                              "creating tree: could not be reached: it did not answer in time",
		errors.New("no such workload web"):                                 "no such workload web",
		// Flattened with %v, as errs.Invalid("%v", err) does: the text alone.
		fmt.Errorf("the index of https://charts.example.com: %v", refused):                                                                    "the index of https://charts.example.com: could not be reached: the connection was refused",
		errors.New(`pulling x: Get "https://registry.example.com/v2/": dial tcp: lookup registry.example.com on 10.96.0.10:53: no such host`): "pulling x: could not be reached: its name registry.example.com does not resolve",
		errors.New("reading: read tcp 10.0.0.4:51234->140.82.112.3:443: read: connection reset by peer"):                                      "reading: could not be reached: the connection was reset",
		errors.New("fetching: dial tcp 140.82.112.3:443: i/o timeout"):                                                                        "fetching: could not be reached: it did not answer in time",
	} {
		got := Message(err)
		if got != want {
			t.Errorf("Message(%q)\n = %q\nwant %q", err, got, want)
		}
		for _, raw := range []string{"dial tcp", "127.0.0.1", "connect:", "lookup "} {
			if strings.Contains(got, raw) {
				t.Errorf("%q quotes the transport (%s)", got, raw)
			}
		}
	}
}
