package gitstore

import (
	"errors"
	"io"
	"net/http"
	"net/http/cgi"
	"os/exec"
	"strings"
	"sync/atomic"
)

// Handler serves a repository on disk over git's smart HTTP protocol with
// git's own http-backend, as a host does: clone, fetch (shallow and
// partial too), never push. Requests arrive with prefix in front of the
// repository's paths (for example "/acme/fleet.git").
func (r *Repo) Handler(prefix string) (http.Handler, error) {
	if r.dir == "" {
		return nil, errors.New("gitstore: only a repository on disk can be served")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, err
	}
	h := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Root: strings.TrimSuffix(prefix, "/"),
		Env:  []string{"GIT_PROJECT_ROOT=" + r.dir, "GIT_HTTP_EXPORT_ALL=1"},
		// "not our ref" and the like are answers to the client, not news.
		Stderr: io.Discard,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/git-receive-pack") || req.URL.Query().Get("service") == "git-receive-pack" {
			http.Error(w, "pushing is not allowed", http.StatusForbidden)
			return
		}
		r.mu.Lock() // a consistent view while objects are written
		defer r.mu.Unlock()
		h.ServeHTTP(w, req)
	}), nil
}

// Counter counts what a git server sent, for the tests' figures.
type Counter struct {
	bytes, requests atomic.Int64
}

// Bytes is the number of response bytes sent.
func (c *Counter) Bytes() int64 { return c.bytes.Load() }

// Requests is the number of requests served.
func (c *Counter) Requests() int64 { return c.requests.Load() }

// Reset sets both counts to zero.
func (c *Counter) Reset() { c.bytes.Store(0); c.requests.Store(0) }

type countingWriter struct {
	http.ResponseWriter
	c *Counter
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.c.bytes.Add(int64(n))
	return n, err
}

// Guard wraps a git handler with HTTP basic authentication, as the hosts
// ask of git clients (any user name, the token as password: GitHub's
// "x-access-token", GitLab's "oauth2"), and counts what it sends.
func Guard(h http.Handler, password string, c *Counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); !ok || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		c.requests.Add(1)
		h.ServeHTTP(countingWriter{w, c}, r)
	})
}
