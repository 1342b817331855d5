// Package githubtest is a fake GitHub REST API on httptest: a small in-memory
// git model (branches, trees, commits) behind the real paths and JSON shapes
// of the endpoints the bot calls. It records every request so that tests
// can assert what was sent and how many calls a flow took.
package githubtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	History            []string // "status/conclusion" after each write
}

// Server is the fake. Owner/Repo name the one repository it serves.
type Server struct {
	*httptest.Server
	Owner, Repo string

	mu          sync.Mutex
	requests    []Request
	files       map[string]map[string]string // tree sha -> path -> content
	commits     map[string]commit            // commit sha -> commit
	branches    map[string]string            // branch -> commit sha
	permissions map[string]string            // user -> permission
	teams       map[string][]string          // org/slug -> members
	comments    []*Comment
	reactions   map[string]bool // "commentID/content"
	pulls       []*PR
	checkRuns   []*CheckRun
	nextID      int64
	failures    map[string]int // "METHOD path" -> status to answer once
}

type commit struct {
	Tree    string
	Parents []string
	Message string
}

// New starts a fake serving owner/repo with files on branch main.
func New(t testing.TB, owner, repo string, files map[string]string) *Server {
	s := &Server{
		Owner: owner, Repo: repo,
		files: map[string]map[string]string{}, commits: map[string]commit{}, branches: map[string]string{},
		permissions: map[string]string{}, teams: map[string][]string{}, reactions: map[string]bool{},
		failures: map[string]int{}, nextID: 1000,
	}
	tree := s.putTree(copyFiles(files))
	s.branches["main"] = s.putCommit(commit{Tree: tree, Message: "initial"})
	s.Server = httptest.NewServer(s.routes())
	t.Cleanup(s.Close)
	return s
}

// APIURL is the v3 API URL to configure clients with.
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// AddBranch creates branch at the head of from.
func (s *Server) AddBranch(branch, from string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.branches[branch] = s.branches[from]
}

// SetPermission sets a collaborator's permission ("admin", "write", "read", ...).
func (s *Server) SetPermission(user, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permissions[user] = perm
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

// File returns a file's content on a branch.
func (s *Server) File(branch, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commits[s.branches[branch]]
	if !ok {
		return "", false
	}
	v, ok := s.files[c.Tree][path]
	return v, ok
}

// Commit returns a branch head's parents and message.
func (s *Server) Commit(branch string) (parents []string, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commits[s.branches[branch]]
	return c.Parents, c.Message
}

// Head returns a branch's commit SHA.
func (s *Server) Head(branch string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.branches[branch]
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

func copyFiles(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func hash(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func (s *Server) putTree(files map[string]string) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{"tree"}
	for _, k := range keys {
		parts = append(parts, k, files[k])
	}
	sha := hash(parts...)
	s.files[sha] = files
	return sha
}

func (s *Server) putCommit(c commit) string {
	sha := hash(append([]string{"commit", c.Tree, c.Message, strconv.Itoa(len(s.commits))}, c.Parents...)...)
	s.commits[sha] = c
	return sha
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
		s.mu.Unlock()
		if fail {
			writeJSON(w, status, map[string]string{"message": http.StatusText(status)})
			return
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
	h("POST "+repo+"/git/refs", s.createRef)
	h("PATCH "+repo+"/git/refs/{ref...}", s.updateRef)
	h("GET "+repo+"/pulls", s.listPulls)
	h("POST "+repo+"/pulls", s.createPull)
	h("PATCH "+repo+"/pulls/{number}", s.editPull)
	h("GET "+repo+"/pulls/{number}", s.getPull)
	h("GET "+repo+"/pulls/{number}/files", s.listPullFiles)
	h("POST "+repo+"/check-runs", s.createCheckRun)
	h("PATCH "+repo+"/check-runs/{id}", s.updateCheckRun)
	h("GET "+repo+"/check-runs/{id}", s.getCheckRun)
	h("GET "+repo+"/commits/{ref}/check-runs", s.listCheckRuns)
	h("GET "+repo+"/compare/{basehead...}", s.compare)
	return mux
}

func (s *Server) installation(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": 1, "app_id": 1})
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": s.Repo, "full_name": s.Owner + "/" + s.Repo, "default_branch": "main",
		"clone_url": fmt.Sprintf("https://github.com/%s/%s.git", s.Owner, s.Repo)})
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusCreated, map[string]any{"token": "ghs_fake", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

// treeAt resolves a branch name or commit SHA to its files.
func (s *Server) treeAt(ref string) (map[string]string, string, bool) {
	if ref == "" {
		ref = "main"
	}
	sha, ok := s.branches[ref]
	if !ok {
		sha = ref
	}
	c, ok := s.commits[sha]
	if !ok {
		return nil, "", false
	}
	return s.files[c.Tree], c.Tree, true
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	files, _, ok := s.treeAt(r.URL.Query().Get("ref"))
	p := r.PathValue("path")
	content, found := files[p]
	if !ok || !found {
		notFound(w)
		return
	}
	name := p[strings.LastIndex(p, "/")+1:]
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(content), "name": name, "path": p,
		"content": base64.StdEncoding.EncodeToString([]byte(content)), "sha": hash("blob", content),
	})
}

func (s *Server) getTree(w http.ResponseWriter, r *http.Request) {
	files, sha, ok := s.treeAt(r.PathValue("ref"))
	if t, isTree := s.files[r.PathValue("ref")]; isTree {
		files, sha, ok = t, r.PathValue("ref"), true
	}
	if !ok {
		notFound(w)
		return
	}
	var entries []map[string]any
	for p, c := range files {
		entries = append(entries, map[string]any{"path": p, "mode": "100644", "type": "blob", "sha": hash("blob", c), "size": len(c)})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i]["path"].(string) < entries[j]["path"].(string) })
	writeJSON(w, http.StatusOK, map[string]any{"sha": sha, "tree": entries, "truncated": false})
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	for _, files := range s.files {
		for _, c := range files {
			if hash("blob", c) == r.PathValue("sha") {
				writeJSON(w, http.StatusOK, map[string]any{"sha": r.PathValue("sha"), "encoding": "base64", "size": len(c),
					"content": base64.StdEncoding.EncodeToString([]byte(c))})
				return
			}
		}
	}
	notFound(w)
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
	var labels []string
	if err := json.NewDecoder(r.Body).Decode(&labels); err != nil {
		unprocessable(w, "labels must be an array of strings")
		return
	}
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
	sha, ok := s.branches[r.PathValue("branch")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":   r.PathValue("branch"),
		"commit": map[string]any{"sha": sha, "commit": map[string]any{"tree": map[string]any{"sha": s.commits[sha].Tree}}},
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
	base, ok := s.files[in.BaseTree]
	if in.BaseTree != "" && !ok {
		unprocessable(w, "base_tree is not a valid tree")
		return
	}
	files := copyFiles(base)
	for _, e := range in.Tree {
		switch {
		case e.Mode != "100644" || e.Type != "blob":
			unprocessable(w, "unsupported tree entry")
			return
		case e.Content != nil:
			files[e.Path] = *e.Content
		case e.SHA == nil:
			delete(files, e.Path)
		default:
			unprocessable(w, "blob sha entries are not supported by the fake")
			return
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"sha": s.putTree(files)})
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
	if _, ok := s.files[in.Tree]; !ok {
		unprocessable(w, "Tree SHA does not exist")
		return
	}
	for _, p := range in.Parents {
		if _, ok := s.commits[p]; !ok {
			unprocessable(w, "Parent SHA does not exist")
			return
		}
	}
	sha := s.putCommit(commit{Tree: in.Tree, Parents: in.Parents, Message: in.Message})
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
	if _, exists := s.branches[branch]; exists {
		unprocessable(w, "Reference already exists")
		return
	}
	if _, ok := s.commits[in.SHA]; !ok {
		unprocessable(w, "Object does not exist")
		return
	}
	s.branches[branch] = in.SHA
	writeJSON(w, http.StatusCreated, map[string]any{"ref": in.Ref, "object": map[string]any{"sha": in.SHA, "type": "commit"}})
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
	if _, exists := s.branches[branch]; !exists {
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
	s.branches[branch] = in.SHA
	writeJSON(w, http.StatusOK, map[string]any{"ref": "refs/" + r.PathValue("ref"), "object": map[string]any{"sha": in.SHA, "type": "commit"}})
}

func (s *Server) pullJSON(p *PR) map[string]any {
	return map[string]any{
		"number": p.Number, "title": p.Title, "body": p.Body, "state": p.State,
		"merged": p.Merged, "merge_commit_sha": nilIfEmpty(p.MergeSHA), "merged_at": mergedAt(p),
		"html_url": fmt.Sprintf("https://github.com/%s/%s/pull/%d", s.Owner, s.Repo, p.Number),
		"head":     map[string]any{"ref": p.Head, "sha": s.branches[p.Head]},
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
	if _, ok := s.branches[in.Head]; !ok || in.Title == "" {
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
		base, head := s.branches[p.Base], s.branches[p.Head]
		tree := s.commits[head].Tree
		for path, content := range s.files[tree] {
			if old, ok := s.files[s.commits[base].Tree][path]; !ok || old != content {
				p.Files = append(p.Files, path)
			}
		}
		sort.Strings(p.Files)
		sha := s.putCommit(commit{Tree: tree, Parents: []string{base, head}, Message: fmt.Sprintf("Merge pull request #%d", number)})
		s.branches[p.Base] = sha
		p.State, p.Merged, p.MergeSHA = "closed", true, sha
		return sha
	}
	return ""
}

// AddCommit puts a commit with the same tree on top of branch and returns it,
// as a later push would.
func (s *Server) AddCommit(branch, message string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	head := s.branches[branch]
	sha := s.putCommit(commit{Tree: s.commits[head].Tree, Parents: []string{head}, Message: message})
	s.branches[branch] = sha
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
		Title   string `json:"title"`
		Summary string `json:"summary"`
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
		c.Title, c.Summary = in.Output.Title, in.Output.Summary
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
	_, okBase := s.commits[base]
	_, okHead := s.commits[head]
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

func (s *Server) ancestor(anc, of string) bool {
	seen := map[string]bool{}
	stack := []string{of}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c == anc {
			return true
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		stack = append(stack, s.commits[c].Parents...)
	}
	return false
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
