// Package githubtest is a fake GitHub REST API on httptest: a small in-memory
// git model (branches, trees, commits) behind the real paths and JSON shapes
// of the endpoints the bot calls. It records every request so that tests
// can assert what was sent and how many calls a flow took.
package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/forgetest/gitstore"
)

// Request is one recorded call.
type Request struct {
	Method, Path, Query string
	Body                []byte
}

// Key is "METHOD path", as routes are written.
func (r Request) Key() string { return r.Method + " " + r.Path }

// Comment is an issue comment on the fake.
type Comment struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	Thread int    `json:"-"`
	User   string `json:"-"`
}

// PR is a pull request on the fake.
type PR struct {
	Number      int
	Title, Body string
	Head, Base  string
	Labels      []string
	State       string
	Merged      bool
	MergeSHA    string
	Files       []string
}

// CheckRun is a check run on the fake, with every state it went through.
type CheckRun struct {
	ID                 int64
	Name, HeadSHA      string
	ExternalID         string
	Status, Conclusion string
	Title, Summary     string
	Text               string
	// Annotations accumulate over the run's writes, as on GitHub.
	Annotations []Annotation
	History     []string // "status/conclusion" after each write
}

// Annotation is a check run annotation as the fake keeps it.
type Annotation struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Level     string `json:"annotation_level"`
	Message   string `json:"message"`
}

// Server is the fake. Owner/Repo name the one repository it serves.
type Server struct {
	*httptest.Server
	Owner, Repo string

	// GitCount counts what the git endpoint served.
	GitCount gitstore.Counter
	// Faults makes calls fail as GitHub does (forgetest.Faults).
	Faults forgetest.Faults

	// HookURL and HookSecret: where and how the fake sends the App's
	// redeliveries (the deliveries API).
	HookURL, HookSecret string
	hookDeliveries      []*HookDelivery

	limitN    int           // content-creating requests allowed per limitPer (0: no limit)
	limitPer  time.Duration //
	writes    []time.Time   // when the recent content-creating requests came
	limitHits int
	// TruncateTrees, when set, truncates recursive tree listings of more
	// entries than that, as GitHub does past 100,000 entries or 7 MB.
	TruncateTrees int

	mu          sync.Mutex
	requests    []Request
	git         *gitstore.Repo
	permissions map[string]string   // user -> permission
	teams       map[string][]string // org/slug -> members
	comments    []*Comment
	reactions   map[string]bool // "commentID/content"
	pulls       []*PR
	checkRuns   []*CheckRun
	nextID      int64
	failures    map[string]int // "METHOD path" -> status to answer once
	apps        manifests      // the App manifest flow
}

// New starts a fake serving owner/repo with files on branch main.
func New(t testing.TB, owner, repo string, files map[string]string) *Server {
	s := &Server{
		Owner: owner, Repo: repo,
		git:         gitstore.New(files),
		permissions: map[string]string{}, teams: map[string][]string{}, reactions: map[string]bool{},
		failures: map[string]int{}, nextID: 1000,
	}
	git, err := gitstore.NewAt(filepath.Join(t.TempDir(), repo+".git"), files)
	if err != nil {
		t.Fatal(err)
	}
	s.git = git
	s.Server = httptest.NewServer(s.routes())
	t.Cleanup(s.Close)
	return s
}

// installationToken is the token the fake hands out and git accepts.
const installationToken = "ghs_fake"

// GitPassword is the password git clients (Flux, Argo CD) give with any
// user name to clone from the fake: its installation token.
const GitPassword = installationToken

// WebURL is where the fake serves git, as GitHub's web address.
func (s *Server) WebURL() string { return s.URL }

// APIURL is the v3 API URL to configure clients with.
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// AddBranch creates branch at the head of from.
func (s *Server) AddBranch(branch, from string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	head, _ := s.git.Branch(from)
	s.git.SetBranch(branch, head)
}

// SetPermission sets a collaborator's permission ("admin", "write", "read", ...).
func (s *Server) SetPermission(user, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permissions[user] = perm
}

// EnforceWriteLimit refuses content-creating requests (POST, PATCH, PUT,
// DELETE) beyond n in any window of per, as GitHub's secondary rate limit
// does: 403 with Retry-After.
func (s *Server) EnforceWriteLimit(n int, per time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitN, s.limitPer = n, per
}

// LimitHits counts the requests refused by EnforceWriteLimit.
func (s *Server) LimitHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitHits
}

// overLimit records a content-creating request, or says how long to wait.
func (s *Server) overLimit(method, path string) (time.Duration, bool) {
	// Installation tokens are not content.
	if s.limitN == 0 || method == http.MethodGet || method == http.MethodHead || strings.HasSuffix(path, "/access_tokens") {
		return 0, false
	}
	now := time.Now()
	kept := s.writes[:0]
	for _, t := range s.writes {
		if now.Sub(t) < s.limitPer {
			kept = append(kept, t)
		}
	}
	s.writes = kept
	if len(s.writes) >= s.limitN {
		s.limitHits++
		return s.writes[0].Add(s.limitPer).Sub(now), true
	}
	s.writes = append(s.writes, now)
	return 0, false
}

// FailNext makes the next request to "METHOD path" answer status.
func (s *Server) FailNext(key string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[key] = status
}

// Requests returns the recorded requests, excluding installation tokens.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if !strings.HasSuffix(r.Path, "/access_tokens") {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Count returns how many recorded requests match "METHOD path".
func (s *Server) Count(key string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Key() == key {
			n++
		}
	}
	return n
}

// Git is the repository the fake serves.
func (s *Server) Git() *gitstore.Repo { return s.git }

// File returns a file's content on a branch.
func (s *Server) File(branch, path string) (string, bool) {
	return s.git.File(branch, path)
}

// Commit returns a branch head's parents and message.
func (s *Server) Commit(branch string) (parents []string, message string) {
	sha, _ := s.git.Branch(branch)
	c, _ := s.git.Commit(sha)
	return c.Parents, c.Message
}

// Head returns a branch's commit SHA.
func (s *Server) Head(branch string) string {
	sha, _ := s.git.Branch(branch)
	return sha
}

// Pulls returns the pull requests.
func (s *Server) Pulls() []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PR, len(s.pulls))
	for i, p := range s.pulls {
		out[i] = *p
	}
	return out
}

// Comments returns the comments of a thread.
func (s *Server) Comments(thread int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Thread == thread {
			out = append(out, *c)
		}
	}
	return out
}

// Reacted tells whether a reaction was added to a comment.
func (s *Server) Reacted(commentID int64, content string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reactions[fmt.Sprintf("%d/%s", commentID, content)]
}

func (s *Server) id() int64 { s.nextID++; return s.nextID }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

func unprocessable(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// record wraps every route: it records the request, checks the repository
// and the auth header, and plays queued failures.
func (s *Server) record(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		path := strings.TrimPrefix(r.URL.Path, "/api/v3")
		req := Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Body: body}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		status, fail := s.failures[req.Key()]
		delete(s.failures, req.Key())
		wait, limited := s.overLimit(r.Method, path)
		s.mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeJSON(w, http.StatusForbidden, map[string]string{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})
			return
		}
		if fail {
			writeJSON(w, status, map[string]string{"message": http.StatusText(status)})
			return
		}
		if f, ok := s.Faults.Take(req.Key()); ok {
			if f.Done {
				s.mu.Lock()
				next(httptest.NewRecorder(), r)
				s.mu.Unlock()
			}
			f.Write(w, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
			if f.Status != 0 {
				return
			}
		}
		if o := r.PathValue("owner"); o != "" && (o != s.Owner || r.PathValue("repo") != s.Repo) {
			notFound(w)
			return
		}
		if r.Header.Get("Authorization") == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Requires authentication"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		next(w, r)
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" /api/v3"+path, s.record(f))
	}
	// git over HTTPS, with an installation token, as github.com serves it.
	prefix := "/" + s.Owner + "/" + s.Repo + ".git"
	if git, err := s.git.Handler(prefix); err == nil {
		mux.Handle(prefix+"/", gitstore.Guard(git, installationToken, &s.GitCount))
	}
	const repo = "/repos/{owner}/{repo}"
	h("POST /app/installations/{id}/access_tokens", s.accessToken)
	h("GET "+repo+"/installation", s.installation)
	h("GET "+repo, s.getRepo)
	h("GET "+repo+"/contents/{path...}", s.getContents)
	h("GET "+repo+"/git/trees/{ref...}", s.getTree)
	h("GET "+repo+"/git/blobs/{sha}", s.getBlob)
	h("GET "+repo+"/collaborators/{user}/permission", s.getPermission)
	h("GET /orgs/{org}/teams/{slug}/memberships/{user}", s.getMembership)
	h("POST "+repo+"/issues/comments/{id}/reactions", s.createReaction)
	h("GET "+repo+"/issues/{number}/comments", s.listComments)
	h("POST "+repo+"/issues/{number}/comments", s.createComment)
	h("PATCH "+repo+"/issues/comments/{id}", s.editComment)
	h("POST "+repo+"/issues/{number}/labels", s.addLabels)
	h("GET "+repo+"/branches/{branch...}", s.getBranch)
	h("POST "+repo+"/git/trees", s.createTree)
	h("POST "+repo+"/git/commits", s.createCommit)
	h("GET "+repo+"/git/commits/{sha}", s.getCommit)
	h("POST "+repo+"/git/refs", s.createRef)
	h("PATCH "+repo+"/git/refs/{ref...}", s.updateRef)
	h("DELETE "+repo+"/git/refs/{ref...}", s.deleteRef)
	h("GET "+repo+"/pulls", s.listPulls)
	h("POST "+repo+"/pulls", s.createPull)
	h("PATCH "+repo+"/pulls/{number}", s.editPull)
	h("GET "+repo+"/pulls/{number}", s.getPull)
	h("GET "+repo+"/pulls/{number}/files", s.listPullFiles)
	h("GET /app", s.getApp)
	// The manifest flow: GitHub's web pages, and a conversion that needs
	// no authentication.
	mux.HandleFunc("POST /settings/apps/new", s.newApp)
	mux.HandleFunc("POST /organizations/{org}/settings/apps/new", s.newApp)
	mux.HandleFunc("POST /api/v3/app-manifests/{code}/conversions", s.convertManifest)
	h("GET /app/hook/deliveries", s.listDeliveries)
	h("POST /app/hook/deliveries/{id}/attempts", s.redeliver)
	h("POST "+repo+"/check-runs", s.createCheckRun)
	h("PATCH "+repo+"/check-runs/{id}", s.updateCheckRun)
	h("GET "+repo+"/check-runs/{id}", s.getCheckRun)
	h("GET "+repo+"/commits/{ref}/check-runs", s.listCheckRuns)
	h("GET "+repo+"/compare/{basehead...}", s.compare)
	return mux
}

// getApp is the App authenticated by its JWT (a start-up check reads it).
// GitHub answers 401 to a JWT it cannot verify; the fake to one that is
// not a JWT at all.
func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.Count(jwt, ".") != 2 {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "A JSON web token could not be decoded"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": 1, "slug": "gitops-bot", "name": "gitops-bot"})
}

func (s *Server) installation(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": 1, "app_id": 1})
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": s.Repo, "full_name": s.Owner + "/" + s.Repo, "default_branch": "main",
		"clone_url": fmt.Sprintf("https://github.com/%s/%s.git", s.Owner, s.Repo)})
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusCreated, map[string]any{"token": installationToken, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

// treeAt resolves a branch name or commit SHA to its tree.
func (s *Server) treeAt(ref string) (string, bool) {
	if ref == "" {
		ref = "main"
	}
	sha, ok := s.git.Resolve(ref)
	if !ok {
		return "", false
	}
	c, _ := s.git.Commit(sha)
	return c.Tree, true
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = "main"
	}
	p := r.PathValue("path")
	content, found := s.git.File(ref, p)
	if !found {
		notFound(w)
		return
	}
	name := p[strings.LastIndex(p, "/")+1:]
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(content), "name": name, "path": p,
		"content": base64.StdEncoding.EncodeToString([]byte(content)), "sha": gitstore.BlobSHA(content),
	})
}

func (s *Server) getTree(w http.ResponseWriter, r *http.Request) {
	truncated := false
	sha, ok := s.treeAt(r.PathValue("ref"))
	if s.git.HasTree(r.PathValue("ref")) {
		sha, ok = r.PathValue("ref"), true
	}
	if !ok {
		notFound(w)
		return
	}
	entries := []map[string]any{}
	if r.URL.Query().Get("recursive") == "" {
		// One level, with the subtrees as entries, as GitHub lists it.
		list, _ := s.git.TreeLevel(sha)
		for _, e := range list {
			entries = append(entries, map[string]any{"path": e.Path, "mode": e.Mode, "type": e.Type, "sha": e.SHA})
		}
		writeJSON(w, http.StatusOK, map[string]any{"sha": sha, "tree": entries, "truncated": false})
		return
	}
	list, _ := s.git.TreeEntries(sha)
	if s.TruncateTrees > 0 && len(list) > s.TruncateTrees {
		list = list[:s.TruncateTrees]
		truncated = true
	}
	for _, e := range list {
		entries = append(entries, map[string]any{"path": e.Path, "mode": "100644", "type": "blob", "sha": e.SHA, "size": e.Size})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": sha, "tree": entries, "truncated": truncated})
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	c, ok := s.git.Blob(r.PathValue("sha"))
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": r.PathValue("sha"), "encoding": "base64", "size": len(c),
		"content": base64.StdEncoding.EncodeToString(c)})
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request) {
	p, ok := s.permissions[r.PathValue("user")]
	if !ok {
		notFound(w)
		return
	}
	role := p
	if p == "maintain" {
		p = "write"
	}
	if p == "triage" {
		p = "read"
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission": p, "role_name": role, "user": map[string]any{"login": r.PathValue("user")}})
}

func (s *Server) getMembership(w http.ResponseWriter, r *http.Request) {
	for _, m := range s.teams[r.PathValue("org")+"/"+r.PathValue("slug")] {
		if m == r.PathValue("user") {
			writeJSON(w, http.StatusOK, map[string]any{"state": "active", "role": "member"})
			return
		}
	}
	notFound(w)
}

// SetTeam sets the members of org/slug.
func (s *Server) SetTeam(team string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teams[team] = members
}

func (s *Server) createReaction(w http.ResponseWriter, r *http.Request) {
	var in struct{ Content string }
	json.NewDecoder(r.Body).Decode(&in)
	key := r.PathValue("id") + "/" + in.Content
	status := http.StatusCreated
	if s.reactions[key] {
		status = http.StatusOK
	}
	s.reactions[key] = true
	writeJSON(w, status, map[string]any{"id": s.id(), "content": in.Content})
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	out := []map[string]any{}
	for _, c := range s.comments {
		if c.Thread == n {
			out = append(out, map[string]any{"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.User}})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	var in struct{ Body string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == "" {
		unprocessable(w, "body is required")
		return
	}
	c := &Comment{ID: s.id(), Body: in.Body, Thread: n, User: "gitops-bot[bot]"}
	s.comments = append(s.comments, c)
	writeJSON(w, http.StatusCreated, map[string]any{"id": c.ID, "body": c.Body})
}

// AddComment puts a comment by user on a thread, as if posted on GitHub.
func (s *Server) AddComment(thread int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Comment{ID: s.id(), Body: body, Thread: thread, User: user}
	s.comments = append(s.comments, c)
	return c.ID
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct{ Body string }
	json.NewDecoder(r.Body).Decode(&in)
	for _, c := range s.comments {
		if c.ID == id {
			c.Body = in.Body
			writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "body": c.Body})
			return
		}
	}
	notFound(w)
}

func (s *Server) addLabels(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	// The API description's body is {"labels": [...]}; a bare array is
	// what GitHub also takes, but the bot must send the documented shape.
	var in struct {
		Labels []string `json:"labels"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Labels == nil {
		unprocessable(w, `Invalid request: the body must be {"labels": [...]}`)
		return
	}
	labels := in.Labels
	for _, p := range s.pulls {
		if p.Number == n {
			p.Labels = append(p.Labels, labels...)
		}
	}
	out := []map[string]any{}
	for _, l := range labels {
		out = append(out, map[string]any{"name": l})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) {
	sha, ok := s.git.Branch(r.PathValue("branch"))
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":   r.PathValue("branch"),
		"commit": map[string]any{"sha": sha, "commit": map[string]any{"tree": map[string]any{"sha": s.commitTree(sha)}}},
	})
}

func (s *Server) createTree(w http.ResponseWriter, r *http.Request) {
	var in struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Mode    string  `json:"mode"`
			Type    string  `json:"type"`
			SHA     *string `json:"sha"`
			Content *string `json:"content"`
		} `json:"tree"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Tree) == 0 {
		unprocessable(w, "Invalid tree info")
		return
	}
	if in.BaseTree != "" && !s.git.HasTree(in.BaseTree) {
		unprocessable(w, "base_tree is not a valid tree")
		return
	}
	changes := map[string]*string{}
	for _, e := range in.Tree {
		switch {
		case e.Mode != "100644" || e.Type != "blob":
			unprocessable(w, "unsupported tree entry")
			return
		case e.Content != nil:
			changes[e.Path] = e.Content
		case e.SHA == nil:
			changes[e.Path] = nil
		default:
			unprocessable(w, "blob sha entries are not supported by the fake")
			return
		}
	}
	sha, err := s.git.UpdateTree(in.BaseTree, changes)
	if err != nil {
		unprocessable(w, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"sha": sha})
}

func (s *Server) createCommit(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message string   `json:"message"`
		Tree    string   `json:"tree"`
		Parents []string `json:"parents"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Message == "" {
		unprocessable(w, "message and tree are required")
		return
	}
	if !s.git.HasTree(in.Tree) {
		unprocessable(w, "Tree SHA does not exist")
		return
	}
	for _, p := range in.Parents {
		if _, ok := s.git.Commit(p); !ok {
			unprocessable(w, "Parent SHA does not exist")
			return
		}
	}
	sha := s.git.WriteCommit(in.Tree, in.Parents, in.Message)
	writeJSON(w, http.StatusCreated, map[string]any{"sha": sha, "tree": map[string]any{"sha": in.Tree}})
}

func (s *Server) createRef(w http.ResponseWriter, r *http.Request) {
	var in struct{ Ref, SHA string }
	json.NewDecoder(r.Body).Decode(&in)
	branch, ok := strings.CutPrefix(in.Ref, "refs/heads/")
	if !ok {
		unprocessable(w, "ref must be fully qualified")
		return
	}
	if _, exists := s.git.Branch(branch); exists {
		unprocessable(w, "Reference already exists")
		return
	}
	if _, ok := s.git.Commit(in.SHA); !ok {
		unprocessable(w, "Object does not exist")
		return
	}
	s.git.SetBranch(branch, in.SHA)
	writeJSON(w, http.StatusCreated, map[string]any{"ref": in.Ref, "object": map[string]any{"sha": in.SHA, "type": "commit"}})
}

// deleteRef deletes a branch, as GitHub does (422 when it does not exist).
func (s *Server) deleteRef(w http.ResponseWriter, r *http.Request) {
	branch, ok := strings.CutPrefix(r.PathValue("ref"), "heads/")
	if _, exists := s.git.Branch(branch); !ok || !exists {
		unprocessable(w, "Reference does not exist")
		return
	}
	if branch == "main" {
		unprocessable(w, "Protected branch: the fake refuses writes to main")
		return
	}
	s.git.DeleteBranch(branch)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) updateRef(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SHA   string
		Force bool
	}
	json.NewDecoder(r.Body).Decode(&in)
	branch, ok := strings.CutPrefix(r.PathValue("ref"), "heads/")
	if !ok {
		unprocessable(w, "ref must be heads/BRANCH")
		return
	}
	if _, exists := s.git.Branch(branch); !exists {
		unprocessable(w, "Reference does not exist")
		return
	}
	if branch == "main" {
		unprocessable(w, "Protected branch: the fake refuses writes to main")
		return
	}
	if !in.Force {
		unprocessable(w, "Update is not a fast forward")
		return
	}
	s.git.SetBranch(branch, in.SHA)
	writeJSON(w, http.StatusOK, map[string]any{"ref": "refs/" + r.PathValue("ref"), "object": map[string]any{"sha": in.SHA, "type": "commit"}})
}

func (s *Server) pullJSON(p *PR) map[string]any {
	return map[string]any{
		"number": p.Number, "title": p.Title, "body": p.Body, "state": p.State,
		"merged": p.Merged, "merge_commit_sha": nilIfEmpty(p.MergeSHA), "merged_at": mergedAt(p),
		"html_url": fmt.Sprintf("https://github.com/%s/%s/pull/%d", s.Owner, s.Repo, p.Number),
		"head":     map[string]any{"ref": p.Head, "sha": s.Head(p.Head)},
		"base":     map[string]any{"ref": p.Base},
	}
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, p := range s.pulls {
		if st := q.Get("state"); st != "" && st != "all" && st != p.State {
			continue
		}
		if h := q.Get("head"); h != "" && h != s.Owner+":"+p.Head {
			continue
		}
		if b := q.Get("base"); b != "" && b != p.Base {
			continue
		}
		out = append(out, s.pullJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Head, Base, Body string }
	json.NewDecoder(r.Body).Decode(&in)
	if _, ok := s.git.Branch(in.Head); !ok || in.Title == "" {
		unprocessable(w, "Validation Failed: head does not exist or title is missing")
		return
	}
	for _, p := range s.pulls {
		if p.Head == in.Head && p.State == "open" {
			unprocessable(w, "A pull request already exists for "+s.Owner+":"+in.Head)
			return
		}
	}
	p := &PR{Number: len(s.pulls) + 1, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base, State: "open"}
	s.pulls = append(s.pulls, p)
	writeJSON(w, http.StatusCreated, s.pullJSON(p))
}

func (s *Server) editPull(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	var in struct{ Title, Body, State *string }
	json.NewDecoder(r.Body).Decode(&in)
	for _, p := range s.pulls {
		if p.Number == n {
			if in.Title != nil {
				p.Title = *in.Title
			}
			if in.Body != nil {
				p.Body = *in.Body
			}
			if in.State != nil {
				p.State = *in.State
			}
			writeJSON(w, http.StatusOK, s.pullJSON(p))
			return
		}
	}
	notFound(w)
}

// Merge merges a pull request as GitHub does: a merge commit on its base
// with the head's files, the base branch moved to it. It returns the SHA.
func (s *Server) Merge(number int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pulls {
		if p.Number != number {
			continue
		}
		base, head := s.Head(p.Base), s.Head(p.Head)
		p.Files = s.git.ChangedFiles(base, head)
		sha := s.git.WriteCommit(s.commitTree(head), []string{base, head}, fmt.Sprintf("Merge pull request #%d", number))
		s.git.SetBranch(p.Base, sha)
		p.State, p.Merged, p.MergeSHA = "closed", true, sha
		return sha
	}
	return ""
}

// OpenPull is a person's pull request: one commit of changes (path ->
// content, nil to delete) on a new branch head from base, and a pull
// request of it. It returns the pull request's number.
func (s *Server) OpenPull(t testing.TB, base, head, title string, changes map[string]*string) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.Head(base)
	tree, err := s.git.UpdateTree(s.commitTree(parent), changes)
	if err != nil {
		t.Fatal(err)
	}
	s.git.SetBranch(head, s.git.WriteCommit(tree, []string{parent}, title))
	p := &PR{Number: len(s.pulls) + 1, Title: title, Head: head, Base: base, State: "open", Files: slices.Sorted(maps.Keys(changes))}
	s.pulls = append(s.pulls, p)
	return p.Number
}

// Push puts a commit whose tree is files on top of branch and returns it,
// as a person's push of a whole new tree would.
func (s *Server) Push(branch, message string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := s.git.WriteCommit(s.git.WriteTree(files), []string{s.Head(branch)}, message)
	s.git.SetBranch(branch, sha)
	return sha
}

// AddCommit puts a commit with the same tree on top of branch and returns it,
// as a later push would.
func (s *Server) AddCommit(branch, message string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	head := s.Head(branch)
	sha := s.git.WriteCommit(s.commitTree(head), []string{head}, message)
	s.git.SetBranch(branch, sha)
	return sha
}

// CheckRuns returns the check runs.
func (s *Server) CheckRuns() []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckRun, len(s.checkRuns))
	for i, c := range s.checkRuns {
		out[i] = *c
		out[i].History = append([]string(nil), c.History...)
	}
	return out
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	for _, p := range s.pulls {
		if p.Number == n {
			writeJSON(w, http.StatusOK, s.pullJSON(p))
			return
		}
	}
	notFound(w)
}

func (s *Server) listPullFiles(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	out := []map[string]any{}
	for _, p := range s.pulls {
		if p.Number == n {
			for _, f := range p.Files {
				out = append(out, map[string]any{"filename": f, "status": "added"})
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type checkRunBody struct {
	Name       string  `json:"name"`
	HeadSHA    string  `json:"head_sha"`
	ExternalID *string `json:"external_id"`
	Status     *string `json:"status"`
	Conclusion *string `json:"conclusion"`
	Output     *struct {
		Title       string       `json:"title"`
		Summary     string       `json:"summary"`
		Text        string       `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

func (c *CheckRun) apply(in checkRunBody) error {
	if in.ExternalID != nil {
		c.ExternalID = *in.ExternalID
	}
	if in.Status != nil {
		c.Status = *in.Status
	}
	if in.Conclusion != nil {
		c.Conclusion = *in.Conclusion
	}
	if c.Status == "completed" && c.Conclusion == "" {
		return fmt.Errorf("conclusion is required when status is completed")
	}
	if in.Output != nil {
		if in.Output.Summary == "" || len(in.Output.Summary) > 65535 {
			return fmt.Errorf("output.summary is required and at most 65535 characters")
		}
		// GitHub's limits: text as long as the summary, 50 annotations a
		// request, each with a path, lines and a level.
		if len(in.Output.Text) > 65535 || len(in.Output.Annotations) > 50 {
			return fmt.Errorf("output.text is at most 65535 characters and output.annotations at most 50")
		}
		for _, a := range in.Output.Annotations {
			if a.Path == "" || a.StartLine < 1 || a.EndLine < a.StartLine || a.Message == "" ||
				a.Level != "notice" && a.Level != "warning" && a.Level != "failure" {
				return fmt.Errorf("annotation %+v is invalid", a)
			}
		}
		c.Title, c.Summary, c.Text = in.Output.Title, in.Output.Summary, in.Output.Text
		c.Annotations = append(c.Annotations, in.Output.Annotations...)
	}
	c.History = append(c.History, c.Status+"/"+c.Conclusion)
	return nil
}

func (s *Server) checkRunJSON(c *CheckRun) map[string]any {
	return map[string]any{"id": c.ID, "name": c.Name, "head_sha": c.HeadSHA, "external_id": c.ExternalID,
		"status": c.Status, "conclusion": nilIfEmpty(c.Conclusion),
		"output": map[string]any{"title": c.Title, "summary": c.Summary}}
}

func mergedAt(p *PR) any {
	if !p.Merged {
		return nil
	}
	return "2026-01-02T03:04:05Z"
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request) {
	var in checkRunBody
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" || in.HeadSHA == "" {
		unprocessable(w, "name and head_sha are required")
		return
	}
	c := &CheckRun{ID: s.id(), Name: in.Name, HeadSHA: in.HeadSHA, Status: "queued"}
	if err := c.apply(in); err != nil {
		unprocessable(w, err.Error())
		return
	}
	s.checkRuns = append(s.checkRuns, c)
	writeJSON(w, http.StatusCreated, s.checkRunJSON(c))
}

func (s *Server) findCheckRun(r *http.Request) *CheckRun {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, c := range s.checkRuns {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request) {
	c := s.findCheckRun(r)
	if c == nil {
		notFound(w)
		return
	}
	var in checkRunBody
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		unprocessable(w, "invalid body")
		return
	}
	if err := c.apply(in); err != nil {
		unprocessable(w, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.checkRunJSON(c))
}

func (s *Server) getCheckRun(w http.ResponseWriter, r *http.Request) {
	if c := s.findCheckRun(r); c != nil {
		writeJSON(w, http.StatusOK, s.checkRunJSON(c))
		return
	}
	notFound(w)
}

func (s *Server) listCheckRuns(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("check_name")
	runs := []map[string]any{}
	for _, c := range s.checkRuns {
		if c.HeadSHA == r.PathValue("ref") && (name == "" || c.Name == name) {
			runs = append(runs, s.checkRunJSON(c))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(runs), "check_runs": runs})
}

// compare answers GitHub's "base...head" status from the commit graph.
func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	base, head, ok := strings.Cut(r.PathValue("basehead"), "...")
	_, okBase := s.git.Commit(base)
	_, okHead := s.git.Commit(head)
	if !ok || !okBase || !okHead {
		notFound(w)
		return
	}
	status := "diverged"
	switch {
	case base == head:
		status = "identical"
	case s.ancestor(base, head):
		status = "ahead"
	case s.ancestor(head, base):
		status = "behind"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status})
}

func (s *Server) ancestor(anc, of string) bool { return s.git.IsAncestor(anc, of) }

func (s *Server) commitTree(sha string) string {
	c, _ := s.git.Commit(sha)
	return c.Tree
}

// getCommit is the Git Data API's commit: its tree and parents.
func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	c, ok := s.git.Commit(r.PathValue("sha"))
	if !ok {
		notFound(w)
		return
	}
	parents := []map[string]any{}
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{"sha": p})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": c.SHA, "message": c.Message, "tree": map[string]any{"sha": c.Tree}, "parents": parents})
}

// ClosePull closes a pull request, as a person would on GitHub.
func (s *Server) ClosePull(number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pulls {
		if p.Number == number {
			p.State = "closed"
		}
	}
}

// PrivateKey returns a new RSA key in PEM, for a GitHub App config whose
// installation tokens the fake hands out.
func PrivateKey(t testing.TB) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

// Sign returns the X-Hub-Signature-256 value GitHub would send for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// HookDelivery is one attempt of a webhook delivery, as the App's
// deliveries API lists it.
type HookDelivery struct {
	ID         int64
	GUID       string
	Event      string
	Payload    []byte
	Status     int // the HTTP status the bot answered; 0: no answer
	At         time.Time
	Redelivery bool
}

// AddDelivery records an attempt GitHub made (status 0 or 5xx: the bot was
// down or overloaded).
func (s *Server) AddDelivery(guid, event string, payload []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookDeliveries = append(s.hookDeliveries, &HookDelivery{ID: s.id(), GUID: guid, Event: event, Payload: payload, Status: status, At: time.Now()})
}

// HookDeliveries returns every attempt, oldest first.
func (s *Server) HookDeliveries() []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HookDelivery, len(s.hookDeliveries))
	for i, d := range s.hookDeliveries {
		out[i] = *d
	}
	return out
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for i := len(s.hookDeliveries) - 1; i >= 0; i-- { // newest first, as GitHub lists them
		d := s.hookDeliveries[i]
		out = append(out, map[string]any{"id": d.ID, "guid": d.GUID, "event": d.Event, "status_code": d.Status,
			"delivered_at": d.At.UTC().Format(time.RFC3339), "redelivery": d.Redelivery, "status": http.StatusText(d.Status)})
	}
	writeJSON(w, http.StatusOK, out)
}

// redeliver sends a delivery again to HookURL, signed, as GitHub does
// (answering 202 at once and delivering on its own).
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var d *HookDelivery
	for _, x := range s.hookDeliveries {
		if x.ID == id {
			d = x
		}
	}
	if d == nil {
		notFound(w)
		return
	}
	again := &HookDelivery{ID: s.id(), GUID: d.GUID, Event: d.Event, Payload: d.Payload, Redelivery: true}
	go func() {
		status := 0
		req, _ := http.NewRequest(http.MethodPost, s.HookURL, bytes.NewReader(d.Payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", d.Event)
		req.Header.Set("X-GitHub-Delivery", d.GUID)
		req.Header.Set("X-Hub-Signature-256", Sign(s.HookSecret, d.Payload))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		s.mu.Lock()
		again.Status, again.At = status, time.Now()
		s.hookDeliveries = append(s.hookDeliveries, again)
		s.mu.Unlock()
	}()
	writeJSON(w, http.StatusAccepted, map[string]any{"id": again.ID, "guid": d.GUID})
}
